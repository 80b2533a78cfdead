"""What was in production when: alias holders at a past time, replayed from the audit ledger.

Every alias move appends an audit event (``…alias…`` action with ``model``, ``alias`` and
``version`` in its details; a removal has ``version`` null or a ``delete``/``remove`` action), in
the same transaction as the move. Replaying them in ledger order up to a time gives the exact
holders at that time, and the ledger's Merkle tree and signed checkpoints prove the history was not rewritten.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.core.auth import endpoint
from slipway.core.errors import InvalidInput
from slipway.store.context import ServiceContext
from slipway.store.schema.core import audit_events


def _model_of(details: dict[str, Any], subject_id: str) -> str:
    return str(details.get("model") or details.get("model_name") or subject_id.split("@")[0].split("/")[0])


def aliases_at(conn: Connection, at_ms: int, model: str | None = None) -> list[dict[str, Any]]:
    """[{model, alias, version, set_by, since_ms}] holding at ``at_ms``, sorted by model and alias."""
    holders: dict[tuple[str, str], dict[str, Any]] = {}
    last = 0
    while True:
        rows = conn.execute(
            select(audit_events.c.seq, audit_events.c.ts, audit_events.c.actor, audit_events.c.action,
                   audit_events.c.subject_id, audit_events.c.details)
            .where(audit_events.c.action.like("%alias%"), audit_events.c.ts <= at_ms, audit_events.c.seq > last)
            .order_by(audit_events.c.seq).limit(5000)
        ).all()
        if not rows:
            break
        last = rows[-1].seq
        for row in rows:
            details = orjson.loads(row.details)
            alias = details.get("alias")
            if not alias:
                continue
            name = _model_of(details, row.subject_id)
            if model and name != model:
                continue
            version = details.get("version", details.get("to"))
            if version is None or any(word in row.action for word in ("delete", "remove", "unset")):
                holders.pop((name, alias), None)
            else:
                holders[(name, alias)] = {"model": name, "alias": alias, "version": int(version),
                                          "set_by": row.actor, "since_ms": row.ts}
    return [holders[key] for key in sorted(holders)]


class AliasHistoryEndpoints:
    ctx: ServiceContext

    @endpoint("read")
    def aliases_at(self, at_ms: int, model: str | None = None) -> list[dict[str, Any]]:
        """Which version held each alias at ``at_ms`` (milliseconds since the epoch)."""
        if isinstance(at_ms, bool) or not isinstance(at_ms, int) or at_ms < 0:
            raise InvalidInput(f"at_ms must be a non-negative whole number of milliseconds, got {at_ms!r}")
        with self.ctx.db.read() as conn:
            return aliases_at(conn, at_ms, model)
