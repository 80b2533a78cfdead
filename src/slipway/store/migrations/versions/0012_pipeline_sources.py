"""pipelines: stored pipeline sources (by digest) for schedules, triggers and their runs; the
reference the user gave; when a schedule or trigger was last updated or re-enabled

Revision ID: 0012
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pipeline_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_digest', sa.String(length=64), nullable=True))
    for table in ('pipeline_schedules', 'pipeline_triggers'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('origin', sa.String(length=500), nullable=True))
            batch_op.add_column(sa.Column('source_digest', sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column('updated_ms', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in ('pipeline_triggers', 'pipeline_schedules'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('updated_ms')
            batch_op.drop_column('source_digest')
            batch_op.drop_column('origin')
    with op.batch_alter_table('pipeline_runs', schema=None) as batch_op:
        batch_op.drop_column('source_digest')
