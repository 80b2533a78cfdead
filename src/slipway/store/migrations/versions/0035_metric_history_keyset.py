"""metric history keyset: the points' index orders them as history reads do, (step, ts, id), so a
page continues after its last point with an index seek instead of an OFFSET over every earlier one

Revision ID: 0035
Revises: 0034
"""

from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Same leading columns: everything the old index served (a run's points, a step range) the
    # new one serves too, so the old one goes.
    op.create_index("ix_metrics_run_key_step_ts_id", "metrics", ["run_id", "key", "step", "ts", "id"])
    op.drop_index("ix_metrics_run_key_step", table_name="metrics")


def downgrade() -> None:
    op.create_index("ix_metrics_run_key_step", "metrics", ["run_id", "key", "step"])
    op.drop_index("ix_metrics_run_key_step_ts_id", table_name="metrics")
