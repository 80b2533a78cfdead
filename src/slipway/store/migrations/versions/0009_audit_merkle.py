"""audit ledger: hash chain -> Merkle leaves (each event keeps its content; gains its RFC 6962 leaf hash)

Old events become leaves in their order. Before converting, the old chain is walked once; a
store whose chain was already broken is converted too (refusing would strand its history), and
the first broken event is logged so that the operator knows the history before this upgrade was
not intact.

Revision ID: 0009
Revises: 0010
"""
import logging

import blake3
import orjson
import sqlalchemy as sa
from alembic import op

from slipway.core.transparency import event_leaf

revision = '0009'
down_revision = '0010'
branch_labels = None
depends_on = None

_GENESIS = "0" * 64
_BATCH = 5000
log = logging.getLogger("alembic.runtime.migration")


def _legacy_hash(row: sa.Row, prev_hash: str) -> str:
    payload = orjson.dumps([row.seq, row.event_id, row.ts, row.actor, row.action, row.subject_kind,
                            row.subject_id, row.details, prev_hash])
    return blake3.blake3(payload).hexdigest()


def _rows(bind: sa.Connection, columns: str) -> "list[sa.Row]":
    out: list[sa.Row] = []
    last = 0
    while True:
        batch = bind.execute(sa.text(f"SELECT {columns} FROM audit_events WHERE seq > :last ORDER BY seq LIMIT {_BATCH}"),
                             {"last": last}).all()
        if not batch:
            return out
        out.extend(batch)
        last = batch[-1].seq


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leaf_hash', sa.String(length=64), nullable=True))
    rows = _rows(bind, "seq, event_id, ts, actor, action, subject_kind, subject_id, details, prev_hash, hash")
    expected, broken = _GENESIS, None
    updates = []
    for row in rows:
        if broken is None and (row.prev_hash != expected or _legacy_hash(row, row.prev_hash) != row.hash):
            broken = row.seq
        expected = row.hash
        leaf = event_leaf(row.seq, row.event_id, row.ts, row.actor, row.action, row.subject_kind, row.subject_id,
                          row.details).hex()
        updates.append({"s": row.seq, "h": leaf})
    if broken is not None:
        log.warning("audit ledger: the old hash chain was already broken at event %s before this upgrade; "
                    "events are converted as they are", broken)
    for start in range(0, len(updates), _BATCH):
        bind.execute(sa.text("UPDATE audit_events SET leaf_hash = :h WHERE seq = :s"), updates[start:start + _BATCH])
    if updates:
        bind.execute(sa.text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": updates[-1]["h"]})
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('leaf_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('hash')


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
    prev, updates = _GENESIS, []
    for row in _rows(bind, "seq, event_id, ts, actor, action, subject_kind, subject_id, details"):
        digest = _legacy_hash(row, prev)
        updates.append({"s": row.seq, "p": prev, "h": digest})
        prev = digest
    for start in range(0, len(updates), _BATCH):
        bind.execute(sa.text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE seq = :s"),
                     updates[start:start + _BATCH])
    bind.execute(sa.text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('leaf_hash')
