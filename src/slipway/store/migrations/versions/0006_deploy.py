"""deploy: deployments, variants, per-step stats, history, payload-log segments, feedback

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deployments',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('spec', sa.Text(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('canary_step', sa.Integer(), nullable=False),
    sa.Column('step_started_ms', sa.BigInteger(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployments')),
    sa.UniqueConstraint('name', name=op.f('uq_deployments_name'))
    )
    op.create_table('deployment_variants',
    sa.Column('deployment_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('ref', sa.String(length=200), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_deployment_variants_deployment_id_deployments')),
    sa.PrimaryKeyConstraint('deployment_id', 'name', name=op.f('pk_deployment_variants'))
    )
    op.create_table('deployment_stats',
    sa.Column('deployment_id', sa.String(length=32), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('variant', sa.String(length=200), nullable=False),
    sa.Column('worker', sa.String(length=100), nullable=False),
    sa.Column('counters', sa.Text(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_deployment_stats_deployment_id_deployments')),
    sa.PrimaryKeyConstraint('deployment_id', 'revision', 'variant', 'worker', name=op.f('pk_deployment_stats'))
    )
    op.create_table('deployment_history',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('deployment_id', sa.String(length=32), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], name=op.f('fk_deployment_history_deployment_id_deployments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deployment_history'))
    )
    op.create_index('ix_deployment_history_dep_time', 'deployment_history', ['deployment_id', 'created_ms'], unique=False)
    op.create_table('payload_segments',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('deployment', sa.String(length=200), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('first_ms', sa.BigInteger(), nullable=False),
    sa.Column('last_ms', sa.BigInteger(), nullable=False),
    sa.Column('columns', sa.Text(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payload_segments'))
    )
    op.create_index('ix_payload_segments_dep_time', 'payload_segments', ['deployment', 'first_ms'], unique=False)
    op.create_table('inference_feedback',
    sa.Column('request_id', sa.String(length=100), nullable=False),
    sa.Column('deployment', sa.String(length=200), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_inference_feedback'))
    )
    op.create_index(op.f('ix_inference_feedback_deployment'), 'inference_feedback', ['deployment'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_inference_feedback_deployment'), table_name='inference_feedback')
    op.drop_table('inference_feedback')
    op.drop_index('ix_payload_segments_dep_time', table_name='payload_segments')
    op.drop_table('payload_segments')
    op.drop_index('ix_deployment_history_dep_time', table_name='deployment_history')
    op.drop_table('deployment_history')
    op.drop_table('deployment_stats')
    op.drop_table('deployment_variants')
    op.drop_table('deployments')
