"""signin_failures: failed password sign-ins per user name and client address, and their lock-outs

Revision ID: 0029
Revises: 0028
"""
import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'signin_failures',
        sa.Column('key', sa.String(length=300), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('window_start_ms', sa.BigInteger(), nullable=False),
        sa.Column('lockouts', sa.Integer(), nullable=False),
        sa.Column('locked_until_ms', sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_signin_failures')),
    )


def downgrade() -> None:
    op.drop_table('signin_failures')
