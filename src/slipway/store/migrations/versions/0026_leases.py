"""leases: named leases with an expiry and a fencing token, for leader election between replicas

Revision ID: 0026
Revises: 0027
"""
import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'leases',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('token', sa.BigInteger(), nullable=False),
        sa.Column('expires_ms', sa.BigInteger(), nullable=False),
        sa.Column('acquired_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_leases')),
    )


def downgrade() -> None:
    op.drop_table('leases')
