"""The embedded online store: one SQLite file (WAL), one connection per thread."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from slipway.core.errors import BackendUnavailable
from slipway.features.online.base import OnlineStore, Stored

SCHEMA = """
CREATE TABLE IF NOT EXISTS online_values (view TEXT NOT NULL, key TEXT NOT NULL, event_ms INTEGER NOT NULL,
    value TEXT NOT NULL, PRIMARY KEY (view, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS online_cursors (view TEXT PRIMARY KEY, body TEXT NOT NULL);
"""
UPSERT = ("INSERT INTO online_values (view, key, event_ms, value) VALUES (?, ?, ?, ?) ON CONFLICT (view, key) "
          "DO UPDATE SET event_ms = excluded.event_ms, value = excluded.value WHERE excluded.event_ms >= event_ms")


class SqliteOnlineStore(OnlineStore):
    def __init__(self, path: str) -> None:
        self.path = path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conn().executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as err:
                raise BackendUnavailable(f"cannot open the online store {self.path}: {err}") from err
            self._local.conn = conn
        return conn

    def write(self, view: str, keys: Sequence[str], event_ms: Sequence[int], values: Sequence[str],
              cursor: dict[str, Any]) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(UPSERT, zip([view] * len(keys), keys, event_ms, values, strict=True))
            conn.execute("INSERT OR REPLACE INTO online_cursors (view, body) VALUES (?, ?)",
                         (view, orjson.dumps(cursor).decode()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def read(self, view: str, keys: Sequence[str]) -> list[Stored | None]:
        if len(keys) == 1:
            row = self._conn().execute("SELECT event_ms, value FROM online_values WHERE view = ? AND key = ?",
                                       (view, keys[0])).fetchone()
            return [row]
        found: dict[str, Stored] = {}
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            marks = ",".join("?" * len(part))
            for key, ms, value in self._conn().execute(
                    f"SELECT key, event_ms, value FROM online_values WHERE view = ? AND key IN ({marks})", (view, *part)):
                found[key] = (ms, value)
        return [found.get(k) for k in keys]

    def cursor(self, view: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT body FROM online_cursors WHERE view = ?", (view,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def clear_cursor(self, view: str) -> None:
        self._conn().execute("DELETE FROM online_cursors WHERE view = ?", (view,))

    def count(self, view: str) -> int:
        return int(self._conn().execute("SELECT count(*) FROM online_values WHERE view = ?", (view,)).fetchone()[0])
