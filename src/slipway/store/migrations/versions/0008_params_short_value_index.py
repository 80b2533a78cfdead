"""params: a partial index (key, value, run_id) over short values, for equality filters

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('params', schema=None) as batch_op:
        batch_op.create_index('ix_params_short_value', ['key', 'value', 'run_id'], unique=False,
                              sqlite_where=sa.text('length(value) <= 200'),
                              postgresql_where=sa.text('length(value) <= 200'))


def downgrade() -> None:
    with op.batch_alter_table('params', schema=None) as batch_op:
        batch_op.drop_index('ix_params_short_value')
