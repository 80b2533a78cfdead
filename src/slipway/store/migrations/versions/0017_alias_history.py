"""model_alias_history: a typed history of alias moves, backfilled from the audit ledger

Revision ID: 0017
Revises: 0008
"""
import orjson
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        'model_alias_history',
        sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('model_name', sa.String(length=200), nullable=False),
        sa.Column('alias', sa.String(length=200), nullable=False),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('set_by', sa.String(length=200), nullable=False),
        sa.Column('ts_ms', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_model_alias_history')),
    )
    with op.batch_alter_table('model_alias_history', schema=None) as batch_op:
        batch_op.create_index('ix_model_alias_history_model_ts', ['model_name', 'ts_ms'], unique=False)
    # Backfill: the alias moves already in the ledger, in ledger order (two action names were used).
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT ts, actor, action, subject_id, details FROM audit_events "
        "WHERE action IN ('registry.set_alias', 'registry.delete_alias', 'model.alias.set') ORDER BY seq")).all()
    history = []
    for ts, actor, action, subject_id, details in rows:
        data = orjson.loads(details)
        alias = data.get("alias")
        if not alias:
            continue
        model = str(data.get("model") or subject_id)
        version = None if action == 'registry.delete_alias' else data.get("version", data.get("to"))
        history.append({"model_name": model, "alias": alias, "version": None if version is None else int(version),
                        "set_by": actor, "ts_ms": ts})
    if history:
        op.bulk_insert(table, history)


def downgrade() -> None:
    with op.batch_alter_table('model_alias_history', schema=None) as batch_op:
        batch_op.drop_index('ix_model_alias_history_model_ts')
    op.drop_table('model_alias_history')
