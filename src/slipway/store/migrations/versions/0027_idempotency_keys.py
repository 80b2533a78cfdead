"""idempotency_keys: the responses of write calls a client tagged with a key, for its retries

Revision ID: 0027
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'idempotency_keys',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('principal', sa.String(length=200), nullable=False),
        sa.Column('endpoint', sa.String(length=200), nullable=False),
        sa.Column('request_digest', sa.String(length=64), nullable=False),
        sa.Column('response', sa.LargeBinary(), nullable=True),
        sa.Column('created_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_idempotency_keys')),
    )
    op.create_index(op.f('ix_idempotency_keys_created_ms'), 'idempotency_keys', ['created_ms'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_idempotency_keys_created_ms'), table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
