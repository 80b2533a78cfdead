"""What every service backend is built with: the stores, who is calling, and the settings."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from sqlalchemy import Connection

from slipway.blobs.store import BlobStore
from slipway.core.auth import DecisionSigner, Principal
from slipway.core.settings import Settings
from slipway.store.database import Database
from slipway.store.ledger import AuditEvent, append_event


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
        self, conn: Connection, action: str, subject_kind: str, subject_id: str, details: dict[str, Any] | None = None
    ) -> AuditEvent:
        """Append an audit event for the current principal in ``conn``'s transaction."""
        return append_event(conn, self.principal.name, action, subject_kind, subject_id, details)

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
