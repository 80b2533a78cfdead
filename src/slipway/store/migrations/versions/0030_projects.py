"""projects: the projects product teams own, per-project role bindings, and the owning project of
experiments, datasets, registered models, deployments, monitors, feature definitions and pipeline
schedules (existing rows belong to ``default``)

Revision ID: 0030
Revises: 0029, 0019
"""
import time

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = ('0029', '0019')  # after the feature store's tables
branch_labels = None
depends_on = None

OWNING_TABLES = ('experiments', 'datasets', 'registered_models', 'deployments', 'monitors',
                 'feature_definitions', 'pipeline_schedules')


def upgrade() -> None:
    projects = op.create_table(
        'projects',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('created_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_projects')),
    )
    op.bulk_insert(projects, [{'name': 'default', 'description': 'the project of everything not given one',
                               'created_by': 'system', 'created_ms': int(time.time() * 1000)}])
    op.create_table(
        'role_bindings',
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('role', sa.String(length=50), nullable=False),
        sa.Column('project', sa.String(length=200), nullable=False),
        sa.Column('bound_by', sa.String(length=200), nullable=False),
        sa.Column('created_ms', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_role_bindings_user_id_users')),
        sa.ForeignKeyConstraint(['project'], ['projects.name'], name=op.f('fk_role_bindings_project_projects')),
        sa.PrimaryKeyConstraint('user_id', 'role', 'project', name=op.f('pk_role_bindings')),
    )
    for table in OWNING_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('project', sa.String(length=200), nullable=False, server_default='default'))
        op.create_index(op.f(f'ix_{table}_project'), table, ['project'])


def downgrade() -> None:
    for table in OWNING_TABLES:
        op.drop_index(op.f(f'ix_{table}_project'), table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column('project')
    op.drop_table('role_bindings')
    op.drop_table('projects')
