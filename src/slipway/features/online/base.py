"""The online store interface, and opening the configured one.

A store keeps, per view version (``name@3``) and encoded entity key (the JSON array of the join
key values), the event time in ms and the feature values (a JSON array). Writes are conditional:
a value never replaces a newer one. Each chunk of a materialisation is written together with the
run's cursor in one atomic step, so a run killed at any point resumes after the last chunk that
landed and writes every row once.
"""

from __future__ import annotations

import abc
import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slipway.core.errors import InvalidInput

Stored = tuple[int, str]  # (event time in ms, JSON array of values)


class OnlineStore(abc.ABC):
    """Raises :class:`~slipway.core.errors.BackendUnavailable` when the store cannot be reached."""

    @abc.abstractmethod
    def write(self, view: str, keys: Sequence[str], event_ms: Sequence[int], values: Sequence[str],
              cursor: dict[str, Any]) -> None:
        """Write rows (each only if not older than the stored one) and ``cursor``, atomically."""

    @abc.abstractmethod
    def read(self, view: str, keys: Sequence[str]) -> list[Stored | None]:
        """The stored (event ms, values) per key, None where there is none."""

    @abc.abstractmethod
    def cursor(self, view: str) -> dict[str, Any] | None:
        """The cursor of an unfinished materialisation of ``view``, if any."""

    @abc.abstractmethod
    def clear_cursor(self, view: str) -> None: ...

    @abc.abstractmethod
    def count(self, view: str) -> int:
        """How many keys ``view`` holds."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""


@functools.cache
def _open(uri: str, namespace: str) -> OnlineStore:
    if uri.startswith(("redis://", "rediss://", "unix://")):
        from slipway.features.online.redis import RedisOnlineStore

        return RedisOnlineStore(uri, namespace)
    if uri.startswith("sqlite:///"):
        from slipway.features.online.sqlite import SqliteOnlineStore

        return SqliteOnlineStore(uri.removeprefix("sqlite:///"))
    raise InvalidInput(f"online_store {uri!r} is not sqlite:///PATH or redis://HOST:PORT/DB")


def online_store_uri(settings: Any) -> str:
    uri = str(settings.online_store or "")
    return uri or f"sqlite:///{(Path(settings.home) / 'features' / 'online.db').resolve()}"


# id(settings) -> (settings, metadata store URI, online store URI): resolving them walks the file
# system (realpath), which would otherwise be most of a hot lookup's time.
_uris: dict[int, tuple[Any, str, str]] = {}


def store_uris(settings: Any) -> tuple[str, str]:
    """The metadata store's resolved URI and the online store's URI, for these settings."""
    found = _uris.get(id(settings))
    if found is None or found[0] is not settings:
        if len(_uris) > 64:
            _uris.clear()
        found = (settings, settings.resolved_store_uri, online_store_uri(settings))
        _uris[id(settings)] = found
    return found[1], found[2]


def open_online_store(settings: Any) -> OnlineStore:
    """The online store the settings name (one per URI and process). A shared Redis keeps each
    metadata store's values apart under a prefix derived from the store's URI."""
    store_uri, online_uri = store_uris(settings)
    namespace = _namespaces.get(store_uri)
    if namespace is None:
        if len(_namespaces) > 64:
            _namespaces.clear()
        namespace = _namespaces[store_uri] = hashlib.sha256(store_uri.encode()).hexdigest()[:12]
    return _open(online_uri, namespace)


_namespaces: dict[str, str] = {}  # metadata store URI -> its Redis prefix (a hash per lookup otherwise)
