"""The background metric logger: bounded, flushed on a short timer, optionally durable.

``log_metric`` checks the point and appends it to a buffer (microseconds); a daemon thread writes
buffers as one ``log_batch`` when they reach the batch size or every ``flush_seconds`` (0.2 s by
default). ``flush`` (called by ``end_run``, reads, and at interpreter exit) writes everything still
buffered and re-raises any error a background write hit, so nothing is dropped silently.

Two guarantees, one per mode (docs/tracking.md, "What a kill can cost"):

- **buffered** (the default): at most ``max_pending`` acknowledged points are ever unwritten. When
  that many are waiting (buffered or being written), ``log_metric`` writes them itself before it
  returns (backpressure), so a SIGKILL loses at most ``max_pending`` points, and normally only
  those of the last ``flush_seconds``.
- **durable** (a setting, or ``start_run(durable=True)`` per run): each point is also appended to a
  local spool file (:mod:`slipway.tracking.spool`) before ``log_metric`` returns, as W&B does; a
  killed process's points are replayed on the next open of the workspace (or ``slipway runs
  recover``), so a SIGKILL loses no acknowledged point.

The same thread also sends the heartbeats of this process's running runs (every
``heartbeat_seconds``), which is how a run of a killed process is told from a live one.
"""

from __future__ import annotations

import atexit
import sys
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slipway.core.clock import now_ms
from slipway.core.errors import BackendUnavailable
from slipway.core.names import check_key, check_number
from slipway.tracking.spool import MetricSpool, Point

_LOGGERS: weakref.WeakSet[MetricLogger] = weakref.WeakSet()
CHUNK = 20_000  # points per log_batch call


class MetricLogger:
    def __init__(
        self, backend: Any, batch_size: int = 5000, flush_seconds: float = 0.2, max_pending: int = 100_000,
        spool_folder: Path | None = None, durable: bool = False, heartbeat_seconds: float = 30.0,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._backend = backend
        self._max_pending = max(1, max_pending)
        self._batch_size = min(max(1, batch_size), self._max_pending)
        self._flush_seconds = flush_seconds
        self._buffer: dict[str, list[Point]] = defaultdict(list)
        self._pending = 0  # buffered + being written: every acknowledged point not yet committed
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._error: BaseException | None = None
        self._known_keys: set[str] = set()
        self._spool_folder = spool_folder
        self._spool: MetricSpool | None = None
        self._durable_all = durable
        self._durable_runs: set[str] = set()
        self._beating: set[str] = set()
        self._heartbeat_ms = int(heartbeat_seconds * 1000)
        self._clock = clock
        self._last_beat = clock()
        self._thread = threading.Thread(target=self._loop, name="slipway-metric-logger", daemon=True)
        self._thread.start()
        _LOGGERS.add(self)

    # -- runs this process is responsible for -----------------------------------------------
    def watch(self, run_id: str, durable: bool | None = None) -> None:
        """Send heartbeats for ``run_id`` from now on; spool its points if it is durable."""
        with self._lock:
            self._beating.add(run_id)
            if durable or (durable is None and self._durable_all):
                self._durable_runs.add(run_id)
                if self._spool is None and self._spool_folder is not None:
                    self._spool = MetricSpool(self._spool_folder)

    def unwatch(self, run_id: str) -> None:
        with self._lock:
            self._beating.discard(run_id)

    def beat(self) -> bool:
        """Send the heartbeats now if one is due by the clock; True if sent."""
        now = self._clock()
        if now - self._last_beat < self._heartbeat_ms:
            return False
        with self._lock:
            run_ids = sorted(self._beating)
        self._last_beat = now
        if run_ids:
            try:
                self._backend.heartbeat_runs(run_ids)
            except Exception as err:  # noqa: BLE001 - a missed beat is retried; reaping allows several
                sys.stderr.write(f"slipway: run heartbeat failed (retrying): {err}\n")
        return bool(run_ids)

    # -- logging ----------------------------------------------------------------------------
    def log(self, run_id: str, key: str, value: Any, step: int, ts: int | None = None) -> None:
        if key not in self._known_keys:
            check_key(key, "metric key")
            self._known_keys.add(key)
        number = check_number(value, f"metric {key!r}")
        point = (key, number, int(step), ts if ts is not None else now_ms())
        with self._lock:
            if self._spool is not None and run_id in self._durable_runs:
                self._spool.append(run_id, point)  # before returning: this is the durable promise
            self._buffer[run_id].append(point)
            self._pending += 1
            pending = self._pending
        if pending >= self._batch_size:
            self._wake.set()
        if pending >= self._max_pending:
            self.flush()  # backpressure: the caller waits for its points to be stored

    def _take(self) -> tuple[dict[str, list[Point]], tuple[Path, int] | None]:
        """Everything buffered, and the spool segment that holds exactly those points."""
        with self._lock:
            taken, self._buffer = dict(self._buffer), defaultdict(list)
            segment = self._spool.rotate() if self._spool is not None and taken else None
        return taken, segment

    def _settle(self, count: int) -> None:
        with self._lock:
            self._pending -= count

    def _write(self, batches: dict[str, list[Point]]) -> None:
        # One run's failure must not cost the other runs their points: write every run, then raise
        # the first error. Points that failed only because the store or server was unreachable
        # go back in the buffer for the next flush; points the backend refused are dropped.
        first_error: BaseException | None = None
        with self._write_lock:
            for run_id, points in batches.items():
                for start in range(0, len(points), CHUNK):
                    chunk = points[start : start + CHUNK]
                    try:
                        self._backend.log_batch(run_id, metrics=[_wire(p) for p in chunk])
                    except Exception as err:  # noqa: BLE001 - re-raised below
                        if isinstance(err, BackendUnavailable):
                            self._requeue(run_id, points[start:])
                        else:
                            self._settle(len(points) - start)
                        first_error = first_error or err
                        break
                    self._settle(len(chunk))
        if first_error is not None:
            raise first_error

    def _requeue(self, run_id: str, points: list[Point]) -> None:
        with self._lock:
            self._buffer[run_id][:0] = points
            if self._spool is not None and run_id in self._durable_runs:
                for point in points:  # into the current segment before the old one is deleted
                    self._spool.append(run_id, point)

    def _write_taken(self) -> None:
        batches, segment = self._take()
        try:
            self._write(batches)
        finally:
            if segment is not None:
                MetricSpool.release(segment)

    def flush(self, run_id: str | None = None) -> None:
        """Write what is buffered now (all runs: ``run_id`` is accepted for compatibility);
        raise a background write's error."""
        self._write_taken()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        """Flush, stop the background thread and its heartbeats, and delete the spool unless
        points are still unwritten (the store was unreachable)."""
        try:
            self.flush()
        finally:
            with self._lock:
                self._stopped = True
                self._beating.clear()
                if self._spool is not None:
                    self._spool.close(keep=self._pending > 0)
                    self._spool = None
            self._wake.set()
            _LOGGERS.discard(self)

    def _loop(self) -> None:
        while not self._stopped:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            if self._stopped:
                return
            try:
                self._write_taken()
            except Exception as err:  # noqa: BLE001 - kept for the next flush to raise
                self._error = err
            self.beat()


def _wire(point: Point) -> tuple[Any, ...]:
    key, value, step, ts = point
    if value != value or value in (float("inf"), float("-inf")):
        return (key, "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity"), step, ts)
    return point


@atexit.register
def _flush_all_at_exit() -> None:
    for logger in list(_LOGGERS):
        try:
            logger.close()
        except Exception as err:  # noqa: BLE001 - at exit no caller is left to raise to, so say it
            sys.stderr.write(f"slipway: metric points could not be written at exit: {err}\n")
