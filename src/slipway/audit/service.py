"""``ws.audit``: the audit ledger as users see it."""

from __future__ import annotations

from typing import Any

from slipway.core.clock import parse_time
from slipway.store.context import Host
from slipway.store.ledger import AuditEvent, LedgerVerdict


class AuditService:
    def __init__(self, host: Host) -> None:
        self._backend: Any = host.backend("audit")

    def log(self, subject: str | None = None, action: str | None = None, since: str | None = None,
            until: str | None = None, limit: int = 100) -> list[AuditEvent]:
        """Events newest first. ``subject`` is ``kind`` or ``kind:id`` (e.g. ``run:0a1b…``)."""
        kind, _, ident = (subject or "").partition(":")
        return self._backend.log(
            subject_kind=kind or None, subject_id=ident or None, action=action,
            since_ms=parse_time(since) if since else None, until_ms=parse_time(until) if until else None, limit=limit,
        )

    def verify(self) -> LedgerVerdict:
        return self._backend.verify()
