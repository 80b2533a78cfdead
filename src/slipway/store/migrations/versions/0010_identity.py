"""identity: users' signing keys; proof on approval decisions; tier and policy fixed on requests

Revision ID: 0010
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_keys',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('fingerprint', sa.String(length=100), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('added_by', sa.String(length=200), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('revoked_ms', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_keys_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_keys')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_user_keys_fingerprint'))
    )
    with op.batch_alter_table('user_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_keys_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('approval_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk_tier', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('policy_id', sa.String(length=32), nullable=True))
    with op.batch_alter_table('approval_decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proof', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('approval_decisions', schema=None) as batch_op:
        batch_op.drop_column('proof')
    with op.batch_alter_table('approval_requests', schema=None) as batch_op:
        batch_op.drop_column('policy_id')
        batch_op.drop_column('risk_tier')
    with op.batch_alter_table('user_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_keys_user_id'))
    op.drop_table('user_keys')
