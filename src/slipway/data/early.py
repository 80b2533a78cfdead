"""Storing a large file while the rest of ``slipway data add`` starts up.

Opening a workspace costs a few hundred milliseconds of imports (SQLAlchemy, the schema), all
of it CPU work under the GIL, while storing a large file is the kernel copying it and BLAKE3
hashing it, both outside the GIL. So for ``slipway data add NAME FILE`` on a big file the CLI
starts the copy first (:class:`EarlyIngest`) and opens the workspace meanwhile. The early copy
only puts the blob in the store and its digest in the stat cache; the add that follows is the
usual one (it finds the digest in the cache and the blob in the store, so it copies nothing) and
does every check and the commit. If the add then fails, the blob is an unreferenced one that
``gc`` removes, as after any failed add. With the fast paths off (:mod:`slipway.core.fastpaths`)
nothing is started early.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

EARLY_MIN_BYTES = 64 << 20  # below this the copy is too short to be worth a thread


class EarlyIngest:
    """A background thread storing one file into the local artifact store."""

    def __init__(self, full: str, artifacts: str, stat_cache: Path) -> None:
        self._full = full
        self._artifacts = artifacts
        self._stat_cache = stat_cache
        self._thread = threading.Thread(target=self._run, name="slipway-early-ingest", daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, name: str, path: str | os.PathLike[str]) -> EarlyIngest | None:
        """Start storing ``path`` when that is what ``data add name path`` will do with the embedded
        default stores and a large file; None (nothing started) otherwise."""
        from slipway.core import fastpaths
        from slipway.core.errors import SlipwayError
        from slipway.core.names import MAX_NAME, NAME_RE
        from slipway.core.settings import load_settings

        if len(name) > MAX_NAME or not NAME_RE.fullmatch(name):
            return None  # the add will refuse the name: store nothing
        try:
            settings = load_settings()
            info = os.stat(path)
        except (SlipwayError, OSError):
            return None
        if not fastpaths.enabled(settings):
            return None
        artifacts = settings.resolved_artifacts_uri
        if settings.remote or "://" in artifacts or not artifacts.startswith("/"):
            return None
        if not (os.path.isfile(path) and info.st_size >= EARLY_MIN_BYTES):
            return None
        fastpaths.took("data.early_copy")
        return cls(str(Path(path).resolve()), artifacts, Path(settings.home) / "statcache.db")

    def _run(self) -> None:
        from slipway.blobs.statcache import StatCache
        from slipway.blobs.store import open_blob_store

        try:
            before = os.stat(self._full)
            digest = open_blob_store(self._artifacts).put_file_hashing(self._full)
            after = os.stat(self._full)
            if (before.st_size, before.st_mtime_ns, before.st_ctime_ns) != (
                    after.st_size, after.st_mtime_ns, after.st_ctime_ns):
                return  # changed while copied: the add hashes it again
            cache = StatCache(self._stat_cache)
            try:
                cache.store_many([(self._full, before, digest)])
            finally:
                cache.close()
        except Exception:  # noqa: BLE001 - only a head start: the add itself does and reports everything
            return

    def join(self) -> None:
        self._thread.join()
