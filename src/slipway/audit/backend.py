"""Audit endpoints: list events, publish signed checkpoints, verify, prove inclusion.

Listing, verifying, checkpointing and proving need ``audit.read`` (auditor, admin): the ledger
names every actor and detail across all models. Viewers keep the per-model views (approval
requests, ``aliases_at``, deployment history). An auditor bound to projects lists and proves the
events of those projects only (:mod:`slipway.audit.scope`).
"""

from __future__ import annotations

from typing import Any

from slipway.audit import destinations
from slipway.audit.checkpoints import publish_checkpoint
from slipway.audit.keys import destinations as configured_destinations
from slipway.audit.keys import load_signing_key, load_verify_key
from slipway.audit.proofs import prove
from slipway.audit.records import InclusionProof, LedgerVerdict, PublishedCheckpoint, RecordedBundle
from slipway.audit.scope import audit_projects_of, readable_events
from slipway.audit.settings import audit_settings
from slipway.audit.verify import verify_ledger
from slipway.core.auth import endpoint
from slipway.core.errors import InvalidInput, NotFound
from slipway.core.transparency import ProofError, check_checkpoint
from slipway.store.context import ServiceContext
from slipway.store.ledger import AuditEvent, list_events


def _checkpoint_list(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise InvalidInput("checkpoints must be a list of checkpoint objects (the JSON 'audit checkpoint' wrote)")
    return value


class AuditBackend:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _projects_of(self, method: str, arguments: dict[str, Any]) -> frozenset[str] | None:
        return audit_projects_of(self.ctx.db, method, arguments)

    @endpoint("audit.read")
    def log(
        self, subject_kind: str | None = None, subject_id: str | None = None, action: str | None = None,
        since_ms: int | None = None, until_ms: int | None = None, limit: int = 100, descending: bool = True,
        actor: str | None = None,
    ) -> list[AuditEvent]:
        """Events, newest first, filtered by subject, action (``*`` wildcards), time and actor."""
        for name, value in (("limit", limit), ("since_ms", since_ms), ("until_ms", until_ms)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidInput(f"{name} must be an integer, got {value!r}")
        with self.ctx.db.read() as conn:
            return list_events(conn, subject_kind, subject_id, action, since_ms, until_ms, max(1, min(limit, 100_000)),
                               descending, actor, readable_events(self.ctx.principal))

    @endpoint("audit.read")
    def verify(self, checkpoints: list[dict[str, Any]] | None = None, public_key: str | None = None,
               state: bool = True) -> LedgerVerdict:
        """Verify the ledger against ``checkpoints`` and every checkpoint at the configured
        destinations (with their leaf mirrors), then replay it against the governed rows (``state``).
        The verdict names the first event that breaks it and every row no event explains."""
        given = _checkpoint_list(checkpoints)
        key = load_verify_key(self.ctx.settings, public_key)
        published, mirrors = [], []
        for location in configured_destinations(self.ctx.settings):
            published.extend(destinations.read_checkpoints(location))
            mirrors.append(destinations.read_leaves(location))
        with self.ctx.db.read() as conn:
            return verify_ledger(conn, self.ctx.settings, given + published, key, mirrors, self.ctx.blobs, bool(state))

    @endpoint("audit.read")
    def checkpoint(self, to: list[str] | None = None) -> PublishedCheckpoint:
        """Sign a checkpoint of the ledger and publish it to the configured destinations (``to``, for
        admins only: other locations). Returns the checkpoint and where it went."""
        if to:
            self.ctx.principal.require("admin", "publish a checkpoint to a location that is not configured")
            if not isinstance(to, list) or not all(isinstance(t, str) and t for t in to):
                raise InvalidInput(f"to must be a list of locations, got {to!r}")
        checkpoint, where = publish_checkpoint(self.ctx.db, self.ctx.settings, to or None)
        return {"checkpoint": checkpoint, "published_to": where}

    @endpoint("audit.read")
    def prove(self, event: str, checkpoint: dict[str, Any] | None = None) -> InclusionProof:
        """An inclusion proof of ``event`` (id or sequence number) in ``checkpoint``: by default the
        newest published checkpoint covering it, else a fresh one signed with the configured key."""
        if checkpoint is not None and not isinstance(checkpoint, dict):
            raise InvalidInput("checkpoint must be a checkpoint object")
        chosen = checkpoint or self._covering_checkpoint(str(event))
        key = load_verify_key(self.ctx.settings)
        if key is not None:
            try:
                check_checkpoint(chosen, key)
            except ProofError as err:
                raise InvalidInput(f"that checkpoint is not usable: {err}") from err
        with self.ctx.db.read() as conn:
            return prove(conn, str(event), chosen)

    def _covering_checkpoint(self, event: str) -> dict[str, Any]:
        from slipway.store.ledger import event_by_id

        with self.ctx.db.read() as conn:
            row = event_by_id(conn, event)
        if row is None:
            raise NotFound(f"no audit event {event!r}")
        for location in configured_destinations(self.ctx.settings):
            for published in destinations.read_checkpoints(location):
                if int(published.get("tree_size", 0)) >= row.seq:
                    return published
        if audit_settings(self.ctx.settings).signing_key:
            from slipway.audit.checkpoints import make_checkpoint

            return make_checkpoint(self.ctx.db, self.ctx.settings, load_signing_key(self.ctx.settings))[0]
        raise NotFound(f"no published checkpoint covers event {row.seq} and no signing key is configured; "
                       "publish one with 'slipway audit checkpoint' or pass one")

    @endpoint("read")
    def recorded_bundle(self, model: str, version: int) -> RecordedBundle:
        """The bundle digest the ledger recorded when ``model/version`` was registered."""
        from slipway.store.ledger import list_events as events

        with self.ctx.db.read() as conn:
            found = events(conn, "model_version", f"{model}/{int(version)}", "registry.register_version", limit=1,
                           descending=False)
        if not found:
            raise NotFound(f"the ledger has no registration event for {model}/{version}")
        return {"seq": found[0].seq, "bundle_digest": found[0].details.get("bundle_digest"),
                "leaf_hash": found[0].leaf_hash}
