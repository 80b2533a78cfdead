"""monitoring: monitors, their runs per window, alerts

Revision ID: 0018
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'monitors',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('spec', sa.Text(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('created_ms', sa.BigInteger(), nullable=False),
        sa.Column('updated_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_monitors')),
        sa.UniqueConstraint('name', name=op.f('uq_monitors_name')),
    )
    op.create_table(
        'monitor_runs',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('monitor_id', sa.String(length=32), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('window_key', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('result', sa.Text(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_ms', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['monitor_id'], ['monitors.id'], name=op.f('fk_monitor_runs_monitor_id_monitors')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_monitor_runs')),
        sa.UniqueConstraint('monitor_id', 'revision', 'window_key', name='uq_monitor_runs_window'),
    )
    op.create_index('ix_monitor_runs_monitor_created', 'monitor_runs', ['monitor_id', 'created_ms'])
    op.create_table(
        'alerts',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('monitor_id', sa.String(length=32), nullable=False),
        sa.Column('check_name', sa.String(length=200), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('first_run_id', sa.String(length=32), nullable=False),
        sa.Column('last_run_id', sa.String(length=32), nullable=False),
        sa.Column('occurrences', sa.Integer(), nullable=False),
        sa.Column('opened_ms', sa.BigInteger(), nullable=False),
        sa.Column('updated_ms', sa.BigInteger(), nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['monitor_id'], ['monitors.id'], name=op.f('fk_alerts_monitor_id_monitors')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    )
    op.create_index('ix_alerts_monitor_check_state', 'alerts', ['monitor_id', 'check_name', 'state'])


def downgrade() -> None:
    op.drop_index('ix_alerts_monitor_check_state', table_name='alerts')
    op.drop_table('alerts')
    op.drop_index('ix_monitor_runs_monitor_created', table_name='monitor_runs')
    op.drop_table('monitor_runs')
    op.drop_table('monitors')
