"""What every service backend is built with: the stores, who is calling, and the settings."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import Connection

from slipway.blobs.store import BlobStore
from slipway.core.auth import DecisionSigner, Principal
from slipway.core.events import CHECKPOINT_ACTIONS, Action, Subject
from slipway.core.settings import Settings
from slipway.store.database import Database
from slipway.store.ledger import AuditEvent, append_event

# After a transaction that records a governance decision (core.events.CHECKPOINT_ACTIONS)
# commits, every hook in AFTER_DECISION runs (slipway.audit.checkpoints registers the checkpoint
# publisher there).
AFTER_DECISION: list[Callable[[Database, Settings], None]] = []


def _run_decision_hooks(db: Database, settings: Settings) -> None:
    for hook in AFTER_DECISION:
        hook(db, settings)


@dataclasses.dataclass(frozen=True)
class ServiceContext:
    db: Database
    blobs: BlobStore
    principal: Principal
    settings: Settings
    # How the principal was established: "local" (embedded; decisions need ``signer``) or "token"
    # (a server checked a bearer token, which is the proof).
    credential: str = "local"
    # Embedded mode: the acting user's registered signing key, if one is configured.
    signer: DecisionSigner | None = None

    def audit(
        self, conn: Connection, action: Action, subject_kind: Subject, subject_id: str,
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Append an audit event for the current principal in ``conn``'s transaction.

        ``action`` and ``subject_kind`` come from the one vocabulary, :mod:`slipway.core.events`."""
        event = append_event(conn, self.principal.name, action, subject_kind, subject_id, details)
        if action in CHECKPOINT_ACTIONS and AFTER_DECISION:
            callbacks = conn.info.setdefault("after_commit", [])
            if not any(getattr(c, "func", None) is _run_decision_hooks for c in callbacks):
                callbacks.append(functools.partial(_run_decision_hooks, self.db, self.settings))
        return event

    def as_principal(self, principal: Principal) -> ServiceContext:
        return dataclasses.replace(self, principal=principal)


class Host(Protocol):
    """What a user-facing service needs from its workspace: settings, blobs and backends.

    In embedded mode backends are the SQL backends; in remote mode they are HTTP proxies with the
    same methods, and ``blobs`` uploads to the server.
    """

    settings: Settings

    @property
    def blobs(self) -> BlobStore: ...

    def backend(self, name: str) -> Any: ...

    def service(self, name: str) -> Any: ...
