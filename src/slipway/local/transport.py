"""The embedded transport: opens the metadata and artifact stores and builds backends."""

from __future__ import annotations

import functools
from typing import Any

import slipway.audit.checkpoints  # noqa: F401  (registers the checkpoint published after governance decisions)
from slipway.blobs.store import BlobStore, open_blob_store
from slipway.core.auth import Principal
from slipway.core.errors import NotFound
from slipway.core.settings import Settings
from slipway.identity.local import local_identity
from slipway.local.backends import BACKEND_PATHS, backend_class
from slipway.store.context import ServiceContext
from slipway.store.database import Database

# What a server's own transport is built as: no roles; each request acts as its token's principal.
SERVER_PRINCIPAL = Principal("slipway-server", frozenset(), "service")


@functools.cache
def _open_database(uri: str, busy_timeout_s: float) -> Database:
    db = Database(uri, busy_timeout_s)
    db.upgrade()
    return db


class LocalTransport:
    """Backends over the stores named by ``settings``, acting as ``principal`` (default: the
    embedded identity, see :mod:`slipway.identity.local`). A server passes its own principal and
    ``credential="token"``: each request then acts as its token's user."""

    remote = False

    def __init__(self, settings: Settings, principal: Principal | None = None, credential: str = "local") -> None:
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.db = _open_database(settings.resolved_store_uri, settings.sqlite_busy_timeout_s)
        self.blobs: BlobStore = open_blob_store(settings.resolved_artifacts_uri)
        signer = None
        if principal is None:
            principal, signer = local_identity(self.db, settings)
        self.principal = principal
        self.ctx = ServiceContext(self.db, self.blobs, self.principal, settings, credential, signer)
        self._backends: dict[str, Any] = {}

    def backend(self, name: str) -> Any:
        if name not in self._backends:
            if name not in BACKEND_PATHS:
                raise NotFound(f"no service named {name!r}")
            self._backends[name] = backend_class(name)(self.ctx)
        return self._backends[name]

    def close(self) -> None:
        self._backends.clear()
