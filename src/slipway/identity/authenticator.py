"""Bearer-token authentication, shared by the platform API and the inference server (``serve --auth``)."""

from __future__ import annotations

import threading
import time

from slipway.core.auth import Principal
from slipway.core.errors import Unauthenticated
from slipway.core.settings import Settings
from slipway.identity.revocations import generation
from slipway.identity.users import authenticate
from slipway.store.database import Database

__all__ = ["Authenticator"]


class Authenticator:
    """Maps an ``Authorization`` header to a principal. Results are cached for
    ``auth_cache_seconds`` (default 5) so that a busy logger does not pay a database round trip
    per call. A token revoked, a user disabled or roles changed through this process empties the
    cache at once; a change made through another server or process bites within that window."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._generation = generation()
        self._lock = threading.Lock()

    def principal_for(self, header: str | None) -> Principal:
        if not header:
            if self._settings.allow_anonymous:
                return Principal("anonymous", frozenset(self._settings.anonymous_roles))
            raise Unauthenticated("this server needs a token: send 'Authorization: Bearer <token>' (SLIPWAY_TOKEN)")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("use 'Authorization: Bearer <token>'")
        now = time.monotonic()
        current = generation()
        with self._lock:
            if current != self._generation:  # access was taken away in this process: trust nothing cached
                self._cache.clear()
                self._generation = current
            hit = self._cache.get(token)
        if hit and now - hit[0] < self._settings.auth_cache_seconds:
            return hit[1]
        principal = authenticate(self._db, token.strip())
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            if current == self._generation:
                self._cache[token] = (now, principal)
        return principal
