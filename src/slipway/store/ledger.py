"""The audit ledger: events appended inside the caller's transaction, each a leaf of a Merkle tree.

Each event stores its RFC 6962 leaf hash (:func:`slipway.core.transparency.event_leaf`), so an
append costs one hash, one insert and one update of ``audit_head`` (which every appender locks:
appends are serialised across processes and numbered without gaps). Tree nodes are never stored:
the roots that checkpoints sign and verification compares are computed from the leaf hashes in
one pass (``slipway.audit``), so the cost of an append does not grow with the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, select

from slipway.core.clock import now_ms
from slipway.core.ids import new_id
from slipway.core.records import record
from slipway.core.transparency import event_leaf
from slipway.store.schema.core import audit_events, audit_head

GENESIS = "0" * 64


@record
class AuditEvent:
    seq: int
    event_id: str
    ts: int
    actor: str
    action: str
    subject_kind: str
    subject_id: str
    details: dict[str, Any]
    leaf_hash: str


# One event as verification sees it: (seq, event_id, action, stored leaf hash, leaf hash of its
# content). A plain tuple: verification builds a million of them.
LeafRow = tuple[int, str, str, bytes, bytes]


def details_json(details: dict[str, Any] | None) -> str:
    """Details as stored and hashed: compact JSON with sorted keys."""
    return orjson.dumps(details or {}, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def append_event(
    conn: Connection, actor: str, action: str, subject_kind: str, subject_id: str, details: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one event in ``conn``'s transaction (so it commits or rolls back with the change).

    ``action`` and ``subject_kind`` are :class:`~slipway.core.events.Action` and ``Subject``
    values; they are stored (and hashed) as their plain strings."""
    action, subject_kind = str(action), str(subject_kind)
    head_query = select(audit_head.c.seq).where(audit_head.c.id == 1)
    if conn.dialect.name == "postgresql":
        head_query = head_query.with_for_update()
    head = conn.execute(head_query).first()
    if head is None:
        # First event ever. Two first appenders race on this insert; the loser's transaction fails
        # on the primary key and is retried by the caller like any conflict.
        conn.execute(audit_head.insert().values(id=1, seq=0, hash=GENESIS))
        if conn.dialect.name == "postgresql":
            conn.execute(head_query).first()
        prev_seq = 0
    else:
        prev_seq = head.seq
    seq = prev_seq + 1
    event_id, ts, body = new_id(), now_ms(), details_json(details)
    leaf = event_leaf(seq, event_id, ts, actor, action, subject_kind, subject_id, body).hex()
    conn.execute(
        audit_events.insert().values(
            seq=seq, event_id=event_id, ts=ts, actor=actor, action=action, subject_kind=subject_kind,
            subject_id=subject_id, details=body, leaf_hash=leaf,
        )
    )
    conn.execute(audit_head.update().where(audit_head.c.id == 1).values(seq=seq, hash=leaf))
    return AuditEvent(seq, event_id, ts, actor, action, subject_kind, subject_id, details or {}, leaf)


def row_to_event(row: Any) -> AuditEvent:
    return AuditEvent(
        row.seq, row.event_id, row.ts, row.actor, row.action, row.subject_kind, row.subject_id,
        orjson.loads(row.details), row.leaf_hash,
    )


def iter_leaves(conn: Connection, batch: int = 20_000) -> Iterator[LeafRow]:
    """Every event with its stored leaf hash and the leaf hash recomputed from its content."""
    columns = audit_events.c
    query = select(columns.seq, columns.event_id, columns.ts, columns.actor, columns.action, columns.subject_kind,
                   columns.subject_id, columns.details, columns.leaf_hash).order_by(columns.seq).limit(batch)
    last = 0
    while True:
        rows = conn.execute(query.where(columns.seq > last)).all()
        if not rows:
            return
        for seq, event_id, ts, actor, action, kind, subject, details, stored in rows:
            computed = event_leaf(seq, event_id, ts, actor, action, kind, subject, details)
            yield seq, event_id, action, bytes.fromhex(stored), computed
        last = rows[-1][0]


def head_seq(conn: Connection) -> int:
    """The sequence number of the newest event, as the head row records it."""
    return int(conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar() or 0)


def event_by_id(conn: Connection, event_id: str) -> Any:
    """The event row with id ``event_id`` (or sequence number, given as digits), or None."""
    from slipway.core.limits import whole_number

    query = select(audit_events)
    seq = whole_number(event_id)  # ASCII digits within 64 bits; a longer digit string is no sequence number
    if seq is not None:
        return conn.execute(query.where(audit_events.c.seq == seq)).first()
    return conn.execute(query.where(audit_events.c.event_id == event_id)).first()


def list_events(
    conn: Connection, subject_kind: str | None = None, subject_id: str | None = None, action: str | None = None,
    since_ms: int | None = None, until_ms: int | None = None, limit: int = 100, descending: bool = True,
    actor: str | None = None, where: ColumnElement[bool] | None = None,
) -> list[AuditEvent]:
    """Events matching the filters (``where``: any further condition on ``audit_events``)."""
    query = select(audit_events) if where is None else select(audit_events).where(where)
    if actor:
        query = query.where(audit_events.c.actor == actor)
    if subject_kind:
        query = query.where(audit_events.c.subject_kind == subject_kind)
    if subject_id:
        query = query.where(audit_events.c.subject_id == subject_id)
    if action:
        query = query.where(audit_events.c.action.like(action.replace("*", "%")))
    if since_ms is not None:
        query = query.where(audit_events.c.ts >= since_ms)
    if until_ms is not None:
        query = query.where(audit_events.c.ts <= until_ms)
    order = audit_events.c.seq.desc() if descending else audit_events.c.seq
    return [row_to_event(r) for r in conn.execute(query.order_by(order).limit(limit))]
