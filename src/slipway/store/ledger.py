"""The audit ledger: a hash chain of events, appended inside the caller's transaction.

Each event's hash covers its own fields and the previous event's hash; ``audit_head`` holds the
newest sequence number and hash and is locked by every appender, which serialises the chain
across processes and makes removal of the newest events detectable. Verification walks the chain
and names the first event that does not fit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.core.clock import now_ms
from slipway.core.hashing import hash_bytes
from slipway.core.ids import new_id
from slipway.core.records import record
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
    prev_hash: str
    hash: str


@record
class LedgerVerdict:
    ok: bool
    events: int
    first_bad_seq: int | None
    reason: str


def _event_hash(seq: int, event_id: str, ts: int, actor: str, action: str, subject_kind: str,
                subject_id: str, details_json: str, prev_hash: str) -> str:
    payload = orjson.dumps([seq, event_id, ts, actor, action, subject_kind, subject_id, details_json, prev_hash])
    return hash_bytes(payload)


def append_event(
    conn: Connection, actor: str, action: str, subject_kind: str, subject_id: str, details: dict[str, Any] | None = None
) -> AuditEvent:
    """Append one event in ``conn``'s transaction (so it commits or rolls back with the change)."""
    head_query = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
    if conn.dialect.name == "postgresql":
        head_query = head_query.with_for_update()
    head = conn.execute(head_query).first()
    if head is None:
        # First event ever. Two first appenders race on this insert; the loser's transaction fails
        # on the primary key and is retried by the caller like any conflict.
        conn.execute(audit_head.insert().values(id=1, seq=0, hash=GENESIS))
        if conn.dialect.name == "postgresql":
            conn.execute(head_query).first()
        prev_seq, prev_hash = 0, GENESIS
    else:
        prev_seq, prev_hash = head.seq, head.hash
    seq = prev_seq + 1
    event_id, ts = new_id(), now_ms()
    details_json = orjson.dumps(details or {}, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    digest = _event_hash(seq, event_id, ts, actor, action, subject_kind, subject_id, details_json, prev_hash)
    conn.execute(
        audit_events.insert().values(
            seq=seq, event_id=event_id, ts=ts, actor=actor, action=action, subject_kind=subject_kind,
            subject_id=subject_id, details=details_json, prev_hash=prev_hash, hash=digest,
        )
    )
    conn.execute(audit_head.update().where(audit_head.c.id == 1).values(seq=seq, hash=digest))
    return AuditEvent(seq, event_id, ts, actor, action, subject_kind, subject_id, details or {}, prev_hash, digest)


def _row_to_event(row: Any) -> AuditEvent:
    return AuditEvent(
        row.seq, row.event_id, row.ts, row.actor, row.action, row.subject_kind, row.subject_id,
        orjson.loads(row.details), row.prev_hash, row.hash,
    )


def iter_events(conn: Connection, batch: int = 5000) -> Iterator[Any]:
    last = 0
    while True:
        rows = conn.execute(
            select(audit_events).where(audit_events.c.seq > last).order_by(audit_events.c.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_ledger(conn: Connection) -> LedgerVerdict:
    """Walk the chain; report the first event that was edited, removed, inserted or reordered."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    for row in iter_events(conn):
        count += 1
        if row.seq != expected_seq:
            return LedgerVerdict(False, count, expected_seq, f"event {expected_seq} is missing (next is {row.seq})")
        if row.prev_hash != expected_prev:
            return LedgerVerdict(False, count, row.seq, f"event {row.seq} does not follow event {row.seq - 1} (chain broken)")
        recomputed = _event_hash(row.seq, row.event_id, row.ts, row.actor, row.action, row.subject_kind,
                                 row.subject_id, row.details, row.prev_hash)
        if recomputed != row.hash:
            return LedgerVerdict(False, count, row.seq, f"event {row.seq} ({row.action}) was altered: its content does not match its hash")
        expected_prev, expected_seq = row.hash, row.seq + 1
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != expected_seq - 1 or head_hash != expected_prev:
        return LedgerVerdict(False, count, expected_seq if head_seq >= expected_seq else head_seq,
                             f"the ledger head records event {head_seq} but the chain ends at {expected_seq - 1}: events were removed or altered")
    return LedgerVerdict(True, count, None, "ok")


def list_events(
    conn: Connection, subject_kind: str | None = None, subject_id: str | None = None, action: str | None = None,
    since_ms: int | None = None, until_ms: int | None = None, limit: int = 100, descending: bool = True,
) -> list[AuditEvent]:
    query = select(audit_events)
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
    return [_row_to_event(r) for r in conn.execute(query.order_by(order).limit(limit))]


def event_as_dict(event: AuditEvent) -> dict[str, Any]:
    return dataclasses.asdict(event)
