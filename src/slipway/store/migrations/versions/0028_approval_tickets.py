"""approval_requests.ticket_number: the change request (e.g. CHG0030001) a request opened

Revision ID: 0028
Revises: 0027
"""
import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('approval_requests') as batch:
        batch.add_column(sa.Column('ticket_number', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('approval_requests') as batch:
        batch.drop_column('ticket_number')
