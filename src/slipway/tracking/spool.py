"""The durable metric spool: every point of a durable run is appended to a local file before
``log_metric`` returns, and a process that died with points unwritten has them replayed.

Files live in ``<home>/metric-spool/``, one series of segments per process
(``<pid>-<random>.<n>.spool``), each locked (``flock``) by the process that writes it. When the
background logger takes its buffer it also starts a new segment; once the points it took are
committed (or refused), the old segment is deleted. So at any moment the segments of a process
hold at least every point it acknowledged and has not committed yet.

A segment whose lock can be taken belongs to a dead process. :func:`replay_spools` writes its
points through the tracking backend and deletes it. A process killed between a commit and the
deletion of its segment leaves points that are already stored: replay skips them by comparing
with the stored history (a multiset of ``(step, timestamp, value)`` per key), so nothing is
written twice.

The record format is binary, little-endian: ``crc32 | run length | key length | value | step |
timestamp | run | key``. A torn or corrupt record ends the file (it was never acknowledged).
"""

from __future__ import annotations

import dataclasses
import fcntl
import math
import os
import secrets
import struct
import zlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from slipway.core.errors import Conflict, InvalidInput, NotFound

Point = tuple[str, float, int, int]  # key, value, step, timestamp_ms
_HEAD = struct.Struct("<IHHdqq")
_BODY = struct.Struct("<HHdqq")
SPOOL_FOLDER = "metric-spool"
REPLAY_CHUNK = 20_000


def spool_folder(home: Path) -> Path:
    return Path(home) / SPOOL_FOLDER


def encode(run_id: str, point: Point) -> bytes:
    key, value, step, ts = point
    run_bytes, key_bytes = run_id.encode(), key.encode()
    body = _BODY.pack(len(run_bytes), len(key_bytes), value, step, ts) + run_bytes + key_bytes
    return struct.pack("<I", zlib.crc32(body)) + body


def decode(data: bytes) -> list[tuple[str, Point]]:
    """Every whole, intact record of ``data``, in order; stops at the first torn or corrupt one."""
    records: list[tuple[str, Point]] = []
    offset = 0
    while offset + _HEAD.size <= len(data):
        crc, run_len, key_len, value, step, ts = _HEAD.unpack_from(data, offset)
        end = offset + _HEAD.size + run_len + key_len
        if end > len(data) or zlib.crc32(data[offset + 4 : end]) != crc:
            break
        start = offset + _HEAD.size
        run_id = data[start : start + run_len].decode()
        key = data[start + run_len : end].decode()
        records.append((run_id, (key, value, step, ts)))
        offset = end
    return records


class MetricSpool:
    """The append-only segments of this process (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._folder = folder
        self._prefix = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._number = 0
        self._path, self._fd = self._open()

    def _open(self) -> tuple[Path, int]:
        path = self._folder / f"{self._prefix}.{self._number:06d}.spool"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours until this process ends
        return path, fd

    def append(self, run_id: str, point: Point) -> None:
        """Write one point to the current segment (a single ``write``: it survives a kill)."""
        os.write(self._fd, encode(run_id, point))

    def rotate(self) -> tuple[Path, int]:
        """Start a new segment; return the old one for :meth:`release` once its points are stored."""
        old = (self._path, self._fd)
        self._number += 1
        self._path, self._fd = self._open()
        return old

    @staticmethod
    def release(segment: tuple[Path, int]) -> None:
        path, fd = segment
        path.unlink(missing_ok=True)
        os.close(fd)

    def close(self, keep: bool) -> None:
        """Close the current segment; delete it unless it still holds unwritten points."""
        if not keep:
            self._path.unlink(missing_ok=True)
        os.close(self._fd)


@dataclasses.dataclass(frozen=True)
class ReplayReport:
    files: int
    replayed: int
    already_stored: int
    refused: list[str]  # "run: reason" for points the backend refused (a deleted run, ...)


def _point_id(point: Point) -> tuple[int, int, float | str]:
    _, value, step, ts = point
    return (step, ts, "NaN" if math.isnan(value) else value)


def _not_yet_stored(backend: Any, run_id: str, points: list[Point]) -> list[Point]:
    """``points`` minus those already in the run's history (as a multiset, so a point logged twice
    and stored once is replayed once)."""
    stored: dict[str, Counter[tuple[int, int, float | str]]] = {}
    missing: list[Point] = []
    for point in points:
        key = point[0]
        if key not in stored:
            stored[key] = Counter(_point_id((m.key, m.value, m.step, m.ts))
                                  for m in backend.get_metric_history(run_id, key))
        ident = _point_id(point)
        if stored[key][ident] > 0:
            stored[key][ident] -= 1
        else:
            missing.append(point)
    return missing


def _wire(point: Point) -> tuple[Any, ...]:
    key, value, step, ts = point
    if math.isnan(value) or math.isinf(value):
        return (key, "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity"), step, ts)
    return point


def replay_spools(folder: Path, backend: Any) -> ReplayReport:
    """Write the points of dead processes' segments in ``folder`` through ``backend``; delete them.

    Segments of live processes (locked) are left alone. Points the backend refuses for good (an
    unknown or deleted run) are reported and dropped.

    Raises:
        BackendUnavailable, PermissionDenied, ...: any other error, with the segment kept for the
            next replay (points already replayed are skipped then).
    """
    files = replayed = skipped = 0
    refused: list[str] = []
    if not folder.is_dir():
        return ReplayReport(0, 0, 0, [])
    for path in sorted(folder.glob("*.spool")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live process's segment
            if os.fstat(fd).st_nlink == 0:
                continue  # another process replayed and deleted it while we waited
            by_run: dict[str, list[Point]] = defaultdict(list)
            for run_id, point in decode(path.read_bytes()):
                by_run[run_id].append(point)
            for run_id, points in by_run.items():
                try:
                    missing = _not_yet_stored(backend, run_id, points)
                    for start in range(0, len(missing), REPLAY_CHUNK):
                        backend.log_batch(run_id, metrics=[_wire(p) for p in missing[start : start + REPLAY_CHUNK]])
                except (NotFound, Conflict, InvalidInput) as err:
                    refused.append(f"{run_id}: {err}")  # would be refused on every try: drop
                    continue
                replayed += len(missing)
                skipped += len(points) - len(missing)
            # Any other error (unreachable store, no permission) leaves the segment for next time.
            path.unlink(missing_ok=True)
            files += 1
        finally:
            os.close(fd)
    return ReplayReport(files, replayed, skipped, refused)
