"""tracking search indexes

Revision ID: 0007
Revises: 0006

Run search orders active runs newest first by default; this index lets the database walk them in
that order and stop once a page is full instead of sorting every run. The covering metric index
lets a "top N by a metric" search read only the best few thousand values.
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index('ix_runs_lifecycle_start', ['lifecycle', 'start_ms', 'id'], unique=False)
    with op.batch_alter_table('latest_metrics', schema=None) as batch_op:
        batch_op.create_index('ix_latest_metrics_top', ['key', 'is_nan', 'value', 'run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('latest_metrics', schema=None) as batch_op:
        batch_op.drop_index('ix_latest_metrics_top')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('ix_runs_lifecycle_start')
