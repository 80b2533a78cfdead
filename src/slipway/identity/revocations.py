"""A process-wide counter of identity changes that can take access away (a token revoked, a user
disabled, roles changed). Authenticators in the same process drop their cached answers when it
moves, so a revocation bites on the very next request to the server that made it; other servers
see it once their cache entry expires (``auth_cache_seconds``)."""

from __future__ import annotations

import itertools
import threading

_lock = threading.Lock()
_counter = itertools.count(1)
_generation = 0


def access_changed() -> None:
    """Record that some access was taken away or changed (call after the change commits)."""
    global _generation
    with _lock:
        _generation = next(_counter)


def generation() -> int:
    """The current generation; a cache entry made under an older one must not be trusted."""
    return _generation
