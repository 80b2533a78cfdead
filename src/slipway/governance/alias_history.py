"""What was in production when: alias holders at a past time, from the registry's typed history.

Every alias move and removal appends a row to ``model_alias_history`` in the same transaction as
the move and its audit event (:mod:`slipway.registry.aliases`). Replaying the rows in order up to a
time gives the exact holders at that time; ``audit verify`` checks the rows against the ledger, whose Merkle tree and signed checkpoints
prove the history was not rewritten.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from slipway.core.auth import endpoint
from slipway.core.errors import InvalidInput
from slipway.governance.records import AliasHolder
from slipway.store.context import ServiceContext
from slipway.store.schema.registry import model_alias_history


def aliases_at(conn: Connection, at_ms: int, model: str | None = None) -> list[AliasHolder]:
    """[{model, alias, version, set_by, since_ms}] holding at ``at_ms``, sorted by model and alias."""
    query = select(model_alias_history).where(model_alias_history.c.ts_ms <= at_ms)
    if model:
        query = query.where(model_alias_history.c.model_name == model)
    holders: dict[tuple[str, str], AliasHolder] = {}
    for row in conn.execute(query.order_by(model_alias_history.c.seq)):
        key = (row.model_name, row.alias)
        if row.version is None:
            holders.pop(key, None)
        else:
            holders[key] = {"model": row.model_name, "alias": row.alias, "version": int(row.version),
                            "set_by": row.set_by, "since_ms": row.ts_ms}
    return [holders[key] for key in sorted(holders)]


class AliasHistoryEndpoints:
    ctx: ServiceContext

    @endpoint("read")
    def aliases_at(self, at_ms: int, model: str | None = None) -> list[AliasHolder]:
        """Which version held each alias at ``at_ms`` (milliseconds since the epoch)."""
        if isinstance(at_ms, bool) or not isinstance(at_ms, int) or at_ms < 0:
            raise InvalidInput(f"at_ms must be a non-negative whole number of milliseconds, got {at_ms!r}")
        with self.ctx.db.read() as conn:
            return aliases_at(conn, at_ms, model)
