"""The metadata database: engine set-up, transactions and schema upgrades.

SQLite (the default) runs in WAL mode with a long busy timeout and foreign keys on; write
transactions start with ``BEGIN IMMEDIATE`` so concurrent writers queue on the lock instead of
failing with "database is locked" when a read transaction tries to upgrade. PostgreSQL uses a
connection pool. Both get the same schema from the same Alembic migrations.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError

from slipway.core.errors import BackendUnavailable, InvalidInput


def _normalise(uri: str) -> str:
    if uri.startswith("postgresql://") or uri.startswith("postgres://"):
        return "postgresql+psycopg://" + uri.split("://", 1)[1]
    if uri.startswith("sqlite:///") or uri.startswith("postgresql+"):
        return uri
    raise InvalidInput(f"unsupported store URI {uri!r}: use sqlite:///PATH or postgresql://HOST/DB")


def _sqlite_engine(uri: str, busy_timeout_s: float, immediate: bool) -> Engine:
    engine = create_engine(uri, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # A 64 MiB page cache per connection (SQLite's default is 2 MiB): run search walks index
        # pages of latest_metrics and params for thousands of runs, and pooled connections keep
        # them warm between queries. Pages are only held once read, so small stores stay small.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _create_private(path: Path) -> None:
    """Create a new SQLite file, and any folder above it that does not exist, readable by its owner
    only (0600 and 0700): it holds users, hashed tokens and the audit ledger. SQLite gives its -wal
    and -shm files the database's mode. Existing files and folders keep theirs."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


class Database:
    """One metadata store. Use :meth:`write` for a transaction that changes rows, :meth:`read`
    for one that only reads."""

    def __init__(self, uri: str, busy_timeout_s: float = 60.0) -> None:
        self.uri = uri
        url = _normalise(uri)
        self.dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
        if self.dialect == "sqlite":
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                _create_private(Path(path))
            self.sqlite_path = path
            self._writer = _sqlite_engine(url, busy_timeout_s, immediate=True)
            self._reader = _sqlite_engine(url, busy_timeout_s, immediate=False)
        else:
            self.sqlite_path = ""
            try:
                self._writer = create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True)
            except ImportError as err:
                raise BackendUnavailable(
                    "PostgreSQL needs the 'postgres' extra: pip install 'slipway[postgres]'"
                ) from err
            self._reader = self._writer
        # Set by :meth:`request`: every write and read of this thread joins that one transaction.
        self._ambient: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(f"ambient_{id(self)}",
                                                                                        default=None)

    @property
    def engine(self) -> Engine:
        return self._writer

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; committed on success, rolled back on any error.

        Callables appended to ``conn.info["after_commit"]`` run once the transaction committed
        (e.g. publishing an audit checkpoint after a governance decision); on rollback they are dropped.
        Inside :meth:`request` it is a savepoint of the request's transaction.
        """
        ambient = self._ambient.get()
        if ambient is not None:
            with ambient.begin_nested():
                yield ambient
            return
        with self._connect(self._writer) as conn:
            try:
                with conn.begin():
                    yield conn
                callbacks = conn.info.pop("after_commit", [])
            finally:
                conn.info.pop("after_commit", None)
            for callback in callbacks:
                callback()

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        ambient = self._ambient.get()
        if ambient is not None:
            yield ambient
            return
        with self._connect(self._reader) as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def request(self) -> Iterator[Connection]:
        """One transaction for everything the calling thread writes and reads until it ends: a
        server runs an idempotent request in it, so the request's changes and the record of its key
        commit together or not at all."""
        with self.write() as conn:
            token = self._ambient.set(conn)
            try:
                yield conn
            finally:
                self._ambient.reset(token)

    @contextlib.contextmanager
    def _connect(self, engine: Engine) -> Iterator[Connection]:
        # Retry only the connect itself; a failed statement is the caller's to handle.
        for attempt in range(5):
            try:
                conn = engine.connect()
                break
            except OperationalError as err:
                if attempt == 4:
                    raise BackendUnavailable(f"cannot reach the metadata store {self.uri}: {err.orig}") from err
                time.sleep(0.2 * (attempt + 1) + random.random() * 0.1)
        try:
            yield conn
        finally:
            conn.close()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration, once, even with many processes starting."""
        from slipway.store.migrate import upgrade_to_head

        try:
            if self.dialect == "sqlite":
                lock_path = (self.sqlite_path or "slipway") + ".migrate-lock"
                with open(lock_path, "a") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    try:
                        upgrade_to_head(self._writer)
                    finally:
                        fcntl.flock(lock, fcntl.LOCK_UN)
            else:
                upgrade_to_head(self._writer, advisory_lock=True)
        except DBAPIError as err:
            raise BackendUnavailable(f"cannot prepare the metadata store {self.uri}: {err.orig}") from err

    def dispose(self) -> None:
        self._writer.dispose()
        if self._reader is not self._writer:
            self._reader.dispose()
