"""What was in production when: alias holders at a past time, from the registry's typed history.

Every alias move and removal appends a row to ``model_alias_history`` in the same transaction as
the move and its audit event (:mod:`slipway.registry.aliases`). Replaying the rows in order up to a
time gives the exact holders at that time; ``audit verify`` checks the rows against the ledger,
whose Merkle tree and signed checkpoints prove the history was not rewritten.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from slipway.store.schema.registry import model_alias_history


def aliases_at(conn: Connection, at_ms: int, model: str | None = None) -> list[dict[str, Any]]:
    """[{model, alias, version, set_by, since_ms}] holding at ``at_ms``, sorted by model and alias."""
    query = select(model_alias_history).where(model_alias_history.c.ts_ms <= at_ms)
    if model:
        query = query.where(model_alias_history.c.model_name == model)
    holders: dict[tuple[str, str], dict[str, Any]] = {}
    for row in conn.execute(query.order_by(model_alias_history.c.seq)):
        key = (row.model_name, row.alias)
        if row.version is None:
            holders.pop(key, None)
        else:
            holders[key] = {"model": row.model_name, "alias": row.alias, "version": int(row.version),
                            "set_by": row.set_by, "since_ms": row.ts_ms}
    return [holders[key] for key in sorted(holders)]


def alias_moves(conn: Connection, model: str, limit: int) -> list[dict[str, Any]]:
    """Every move and removal of ``model``'s aliases, newest first (``version`` None: removed)."""
    rows = conn.execute(select(model_alias_history).where(model_alias_history.c.model_name == model)
                        .order_by(model_alias_history.c.seq.desc()).limit(limit)).all()
    return [{"alias": r.alias, "version": r.version, "set_by": r.set_by, "at_ms": r.ts_ms} for r in rows]
