"""The payload log's write-ahead spool: every entry is appended to a local file before its answer
is sent, so a killed server loses no answered prediction.

Each server process appends one JSON line per entry to its current spool file with one
``os.write`` (in the kernel's page cache once the call returns, so it survives a SIGKILL of the
process); the payload writer thread ``fdatasync``s it in batches (every ``sync_seconds``, for a
power loss), and rotates it each time it takes a batch of entries to write as Parquet: the rotated
file holds exactly that batch and is deleted once the batch is in segments. A process holds an
exclusive ``flock`` on each of its files until it deletes them; a file whose lock can be taken
belongs to a dead process, and the next server to start replays it into segments (at least once:
a kill between a segment's write and its file's deletion replays those rows again).
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from slipway.serving.frame import Frame

log = logging.getLogger("slipway.serving.payload")
SUFFIX = ".spool"


def encode_entry(entry: Any) -> bytes:
    """One spool line for a :class:`~slipway.serving.payload.PayloadEntry`.

    Values go as JSON lists (``tolist``: much cheaper per request than carrying dtypes): ints,
    floats, booleans and strings come back as int64, float64, bool and text columns; a NaN goes
    as null and comes back as NaN.
    """
    outputs = entry.outputs
    return orjson.dumps(
        {"i": entry.request_id, "t": entry.ts_ms, "d": entry.deployment, "v": entry.variant, "m": entry.model,
         "r": entry.version, "l": entry.latency_ms, "s": entry.status,
         "c": {name: array.tolist() for name, array in entry.frame.columns.items()},
         "o": None if outputs is None else outputs.tolist()},
        option=orjson.OPT_APPEND_NEWLINE)


def _array(values: list[Any]) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind == "O" and any(v is None for v in array.flat):  # numbers with NaNs (spooled as null)
        try:
            return np.asarray([np.nan if v is None else v for v in array.flat], dtype=np.float64).reshape(
                array.shape)
        except (TypeError, ValueError):
            return array
    if array.dtype.kind in "US":
        return array.astype(object)
    return array


def decode_entry(line: bytes) -> Any:
    """The entry a spool line holds."""
    from slipway.serving.payload import PayloadEntry

    raw = orjson.loads(line)
    columns = {name: _array(values) for name, values in raw["c"].items()}
    n_rows = len(next(iter(columns.values()))) if columns else 0
    entry = PayloadEntry(raw["i"], raw["d"], raw["v"], raw["m"], raw["r"], Frame(columns, n_rows),
                         None if raw["o"] is None else _array(raw["o"]), raw["l"], raw["s"])
    entry.ts_ms = raw["t"]
    return entry


class SpoolFile:
    """One locked spool file: its path and open descriptor."""

    __slots__ = ("fd", "path")

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    def read(self) -> tuple[list[Any], int]:
        """(entries, lines that could not be read: a line cut off by a kill mid-write)."""
        with open(self.fd, "rb", closefd=False) as handle:
            handle.seek(0)
            data = handle.read()
        entries, bad = [], 0
        for line in data.split(b"\n"):
            if not line:
                continue
            try:
                entries.append(decode_entry(line))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
                bad += 1
        return entries, bad

    def release(self) -> None:
        """Close the file, keeping it (and its entries) for the next server to replay."""
        os.close(self.fd)

    def remove(self) -> None:
        """Delete the file (its entries are in segments), then release it."""
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)


class Spool:
    """The spool files of one process in ``folder``."""

    def __init__(self, folder: str | Path, owner: str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._owner = "".join(c if c.isalnum() or c in "-_" else "_" for c in owner)
        self._numbers = itertools.count(1)
        self._current: SpoolFile | None = None
        self.dirty = False

    def append(self, entry: Any) -> None:
        """Append one entry (one ``write``; durable against a process kill once it returns).

        Raises:
            OSError: the spool cannot be written (a full disk); TypeError: unserialisable values.
        """
        line = encode_entry(entry)
        if self._current is None:
            self._current = self._open(self.folder / f"{self._owner}-{os.getpid()}-{next(self._numbers)}{SUFFIX}")
        os.write(self._current.fd, line)
        self.dirty = True

    @staticmethod
    def _open(path: Path) -> SpoolFile:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return SpoolFile(path, fd)

    def rotate(self) -> SpoolFile | None:
        """Close the current file for appends and hand it over (still locked); the next append
        starts a new one."""
        current, self._current = self._current, None
        self.dirty = False
        return current

    def sync(self) -> None:
        """``fdatasync`` the current file (the writer's batched durability against power loss)."""
        current = self._current
        if current is not None and self.dirty:
            self.dirty = False
            os.fdatasync(current.fd)

    def rewrite(self, entries: list[Any]) -> SpoolFile:
        """A new, synced spool file holding ``entries`` (what is left of a partly written batch)."""
        spooled = self._open(self.folder / f"{self._owner}-{os.getpid()}-{next(self._numbers)}{SUFFIX}")
        os.write(spooled.fd, b"".join(encode_entry(e) for e in entries))
        os.fdatasync(spooled.fd)
        return spooled

    def orphans(self) -> list[SpoolFile]:
        """The spool files of dead processes (their lock is free), now locked by this one."""
        found = []
        for path in sorted(self.folder.glob(f"*{SUFFIX}")):
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a live process's file
                os.close(fd)
                continue
            if os.fstat(fd).st_nlink == 0:  # deleted by its owner between the listing and the lock
                os.close(fd)
                continue
            found.append(SpoolFile(path, fd))
        return found
