"""``ws.audit``: the audit ledger as users see it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slipway.audit.records import InclusionProof, LedgerVerdict, PublishedCheckpoint, RecordedBundle
from slipway.core.clock import parse_time
from slipway.store.context import Host
from slipway.store.ledger import AuditEvent

if TYPE_CHECKING:
    from slipway.audit.backend import AuditBackend


class AuditService:
    def __init__(self, host: Host) -> None:
        self._backend: AuditBackend = host.backend("audit")

    def log(self, subject: str | None = None, action: str | None = None, since: str | None = None,
            until: str | None = None, limit: int = 100, actor: str | None = None) -> list[AuditEvent]:
        """Events newest first. ``subject`` is ``kind`` or ``kind:id`` (e.g. ``run:0a1b…``); ``actor``
        keeps one user's events."""
        kind, _, ident = (subject or "").partition(":")
        return self._backend.log(
            subject_kind=kind or None, subject_id=ident or None, action=action,
            since_ms=parse_time(since) if since else None, until_ms=parse_time(until) if until else None, limit=limit,
            actor=actor,
        )

    def verify(self, checkpoints: list[dict[str, Any]] | None = None, public_key: str | None = None,
               state: bool = True) -> LedgerVerdict:
        """Prove the ledger extends every checkpoint (given and published) and the governed rows
        match it; the verdict names the first bad event and every unexplained row."""
        return self._backend.verify(checkpoints=checkpoints, public_key=public_key, state=state)

    def checkpoint(self, to: list[str] | None = None) -> PublishedCheckpoint:
        """Sign and publish a checkpoint (``{"checkpoint": …, "published_to": […]}``)."""
        return self._backend.checkpoint(to=to)

    def prove(self, event: str, checkpoint: dict[str, Any] | None = None) -> InclusionProof:
        """An inclusion proof of ``event`` (id or seq), checkable offline with
        :func:`slipway.core.transparency.check_inclusion_proof`."""
        return self._backend.prove(event=str(event), checkpoint=checkpoint)

    def recorded_bundle(self, model: str, version: int) -> RecordedBundle:
        """The bundle digest the ledger recorded at registration of ``model/version``."""
        return self._backend.recorded_bundle(model=model, version=version)
