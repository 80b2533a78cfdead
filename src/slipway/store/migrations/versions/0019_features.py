"""features: feature definitions (versioned) and materialisation state

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'feature_definitions',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('spec', sa.Text(), nullable=False),
        sa.Column('schema_digest', sa.String(length=64), nullable=False),
        sa.Column('current', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_ms', sa.BigInteger(), nullable=False),
        sa.Column('updated_ms', sa.BigInteger(), nullable=False),
        sa.Column('removed_ms', sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_feature_definitions')),
        sa.UniqueConstraint('kind', 'name', 'version', name='uq_feature_definitions_version'),
    )
    op.create_table(
        'feature_materializations',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('view', sa.String(length=200), nullable=False),
        sa.Column('view_version', sa.Integer(), nullable=False),
        sa.Column('watermark_ms', sa.BigInteger(), nullable=False),
        sa.Column('max_event_ms', sa.BigInteger(), nullable=True),
        sa.Column('rows', sa.BigInteger(), nullable=False),
        sa.Column('total_rows', sa.BigInteger(), nullable=False),
        sa.Column('profile_digest', sa.String(length=64), nullable=True),
        sa.Column('last_run_ms', sa.BigInteger(), nullable=False),
        sa.Column('last_run_by', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_feature_materializations')),
        sa.UniqueConstraint('view', name=op.f('uq_feature_materializations_view')),
    )


def downgrade() -> None:
    op.drop_table('feature_materializations')
    op.drop_table('feature_definitions')
