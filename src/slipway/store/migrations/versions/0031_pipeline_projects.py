"""pipeline projects: the owning project of pipeline runs and triggers (schedules and monitors got
theirs in 0030; existing rows belong to ``default``)

Revision ID: 0031
Revises: 0030
"""
import sqlalchemy as sa
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

OWNING_TABLES = ('pipeline_runs', 'pipeline_triggers')


def upgrade() -> None:
    for table in OWNING_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('project', sa.String(length=200), nullable=False, server_default='default'))
        op.create_index(op.f(f'ix_{table}_project'), table, ['project'])


def downgrade() -> None:
    for table in OWNING_TABLES:
        op.drop_index(op.f(f'ix_{table}_project'), table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column('project')
