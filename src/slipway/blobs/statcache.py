"""A stat cache: (path, size, mtime, ctime, inode) → digest, so an unchanged file is never hashed twice.

It is a small SQLite file beside the metadata (``$SLIPWAY_HOME/statcache.db``); it is a cache, so
losing it only costs re-hashing. The change time is part of the key because the modification
time can be set back (``cp -p``, ``rsync -t``, ``tar x``, ``os.utime``) after an edit that kept
the size: only the kernel sets ``ctime``, so such an edit still misses the cache.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stat_cache_v2 (
  path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, inode INTEGER, digest TEXT
)
"""


class StatCache:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._path = os.fspath(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self._path, timeout=30, check_same_thread=False)
        with contextlib.suppress(sqlite3.OperationalError):
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)
        self._conn.execute("DROP TABLE IF EXISTS stat_cache")  # the first layout, without ctime
        self._conn.commit()

    def lookup_many(self, items: Iterable[tuple[str, os.stat_result]], under: str | None = None) -> dict[str, str]:
        """The cached digest of each path whose size, mtime and inode are unchanged.

        ``under`` may name a folder holding every path: the rows are then read with one range
        scan of the primary key instead of ``IN`` lists (for a folder of thousands of files).
        """
        wanted = {path: info for path, info in items}
        if not wanted:
            return {}
        found: dict[str, str] = {}
        paths = list(wanted)
        if under is not None:
            prefix = under if under.endswith("/") else under + "/"
            if all(path.startswith(prefix) for path in paths):
                with self._lock:
                    scanned = self._conn.execute(
                        "SELECT path, size, mtime_ns, ctime_ns, inode, digest FROM stat_cache_v2 "
                        "WHERE path >= ? AND path < ?",
                        (prefix, prefix[:-1] + "0"),  # "0" sorts right after "/"
                    ).fetchall()
                for path, size, mtime_ns, ctime_ns, inode, digest in scanned:
                    info = wanted.get(path)
                    if info is not None and (size, mtime_ns, ctime_ns, inode) == (
                            info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino):
                        found[path] = digest
                return found
        with self._lock:
            for start in range(0, len(paths), 900):
                chunk = paths[start : start + 900]
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT path, size, mtime_ns, ctime_ns, inode, digest FROM stat_cache_v2 WHERE path IN ({marks})",
                    chunk,
                )
                for path, size, mtime_ns, ctime_ns, inode, digest in rows:
                    info = wanted[path]
                    if (size, mtime_ns, ctime_ns, inode) == (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino):
                        found[path] = digest
        return found

    def store_many(self, items: Iterable[tuple[str, os.stat_result, str]]) -> None:
        rows = [(p, i.st_size, i.st_mtime_ns, i.st_ctime_ns, i.st_ino, d) for p, i, d in items]
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO stat_cache_v2 VALUES (?,?,?,?,?,?)", rows)
            self._conn.commit()

    def close(self) -> None:
        self._conn.close()
