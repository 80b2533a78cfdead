"""Governance's "what was in production at time T" endpoint over the registry's alias history
(:mod:`slipway.registry.alias_history` reads the rows; only the registry owns them)."""

from __future__ import annotations

from typing import cast

from slipway.core.auth import endpoint
from slipway.core.errors import InvalidInput
from slipway.governance.records import AliasHolder, AliasMove
from slipway.registry.alias_history import alias_moves, aliases_at
from slipway.store.context import ServiceContext
from slipway.store.projects import keep_readable_models


class AliasHistoryEndpoints:
    ctx: ServiceContext

    @endpoint("read")
    def aliases_at(self, at_ms: int, model: str | None = None) -> list[AliasHolder]:
        """Which version held each alias at ``at_ms`` (milliseconds since the epoch)."""
        if isinstance(at_ms, bool) or not isinstance(at_ms, int) or at_ms < 0:
            raise InvalidInput(f"at_ms must be a non-negative whole number of milliseconds, got {at_ms!r}")
        with self.ctx.db.read() as conn:
            held = cast(list[AliasHolder], aliases_at(conn, at_ms, model))
            return keep_readable_models(self.ctx.principal, conn, held, lambda h: h["model"])

    @endpoint("read")
    def alias_history(self, model: str, limit: int = 200) -> list[AliasMove]:
        """Every move and removal of ``model``'s aliases, newest first:
        ``[{alias, version (None: removed), set_by, at_ms}]``."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput(f"limit must be a whole number from 1 to 10000, got {limit!r}")
        with self.ctx.db.read() as conn:
            return cast(list[AliasMove], alias_moves(conn, model, limit))
