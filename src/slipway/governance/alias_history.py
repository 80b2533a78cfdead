"""Governance's "what was in production at time T" endpoint over the registry's alias history
(:mod:`slipway.registry.alias_history` reads the rows; only the registry owns them)."""

from __future__ import annotations

from typing import Any

from slipway.core.auth import endpoint
from slipway.core.errors import InvalidInput
from slipway.registry.alias_history import aliases_at
from slipway.store.context import ServiceContext


class AliasHistoryEndpoints:
    ctx: ServiceContext

    @endpoint("read")
    def aliases_at(self, at_ms: int, model: str | None = None) -> list[dict[str, Any]]:
        """Which version held each alias at ``at_ms`` (milliseconds since the epoch)."""
        if isinstance(at_ms, bool) or not isinstance(at_ms, int) or at_ms < 0:
            raise InvalidInput(f"at_ms must be a non-negative whole number of milliseconds, got {at_ms!r}")
        with self.ctx.db.read() as conn:
            return aliases_at(conn, at_ms, model)
