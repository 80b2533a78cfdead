"""pipelines

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pipeline_cache',
    sa.Column('cache_key', sa.String(length=64), nullable=False),
    sa.Column('step', sa.String(length=200), nullable=False),
    sa.Column('outputs', sa.Text(), nullable=False),
    sa.Column('step_run_id', sa.String(length=32), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('expires_ms', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('cache_key', name=op.f('pk_pipeline_cache'))
    )
    with op.batch_alter_table('pipeline_cache', schema=None) as batch_op:
        batch_op.create_index('ix_pipeline_cache_step', ['step'], unique=False)

    op.create_table('pipeline_runs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('pipeline', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('runner', sa.String(length=20), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('resumed_from', sa.String(length=32), nullable=True),
    sa.Column('user', sa.String(length=200), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('start_ms', sa.BigInteger(), nullable=True),
    sa.Column('end_ms', sa.BigInteger(), nullable=True),
    sa.Column('heartbeat_ms', sa.BigInteger(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline_runs'))
    )
    with op.batch_alter_table('pipeline_runs', schema=None) as batch_op:
        batch_op.create_index('ix_pipeline_runs_pipeline_created', ['pipeline', 'created_ms'], unique=False)
        batch_op.create_index('ix_pipeline_runs_status', ['status'], unique=False)

    op.create_table('pipeline_schedules',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('pipeline', sa.String(length=500), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('cron', sa.String(length=100), nullable=False),
    sa.Column('runner', sa.String(length=20), nullable=False),
    sa.Column('catchup', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline_schedules')),
    sa.UniqueConstraint('name', name=op.f('uq_pipeline_schedules_name'))
    )
    op.create_table('pipeline_triggers',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('pipeline', sa.String(length=500), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('param', sa.String(length=100), nullable=False),
    sa.Column('runner', sa.String(length=20), nullable=False),
    sa.Column('baseline', sa.Integer(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline_triggers')),
    sa.UniqueConstraint('name', name=op.f('uq_pipeline_triggers_name'))
    )
    op.create_table('pipeline_firings',
    sa.Column('source_id', sa.String(length=32), nullable=False),
    sa.Column('event', sa.String(length=300), nullable=False),
    sa.Column('source_kind', sa.String(length=20), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['pipeline_runs.id'], name=op.f('fk_pipeline_firings_run_id_pipeline_runs')),
    sa.PrimaryKeyConstraint('source_id', 'event', name=op.f('pk_pipeline_firings'))
    )
    op.create_table('pipeline_step_runs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('step', sa.String(length=200), nullable=False),
    sa.Column('upstream', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('cache_key', sa.String(length=64), nullable=True),
    sa.Column('cached', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('start_ms', sa.BigInteger(), nullable=True),
    sa.Column('end_ms', sa.BigInteger(), nullable=True),
    sa.Column('outputs', sa.Text(), nullable=False),
    sa.Column('logs_digest', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['pipeline_runs.id'], name=op.f('fk_pipeline_step_runs_run_id_pipeline_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipeline_step_runs')),
    sa.UniqueConstraint('run_id', 'key', name='uq_pipeline_step_runs_run_key')
    )


def downgrade() -> None:
    op.drop_table('pipeline_step_runs')
    op.drop_table('pipeline_firings')
    op.drop_table('pipeline_triggers')
    op.drop_table('pipeline_schedules')
    with op.batch_alter_table('pipeline_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_pipeline_runs_status')
        batch_op.drop_index('ix_pipeline_runs_pipeline_created')

    op.drop_table('pipeline_runs')
    with op.batch_alter_table('pipeline_cache', schema=None) as batch_op:
        batch_op.drop_index('ix_pipeline_cache_step')

    op.drop_table('pipeline_cache')
