"""The background metric logger.

``log_metric`` checks the point and appends it to a buffer (microseconds); a daemon thread writes
buffers as one ``log_batch`` when they reach the size bound or the time bound. ``flush`` (called by
``end_run`` and at interpreter exit) writes everything still buffered and re-raises any error a
background write hit, so nothing is dropped silently.
"""

from __future__ import annotations

import atexit
import sys
import threading
import weakref
from collections import defaultdict
from typing import Any

from slipway.core.clock import now_ms
from slipway.core.errors import BackendUnavailable, SlipwayError
from slipway.core.names import check_key, check_number

_LOGGERS: weakref.WeakSet[MetricLogger] = weakref.WeakSet()


class MetricLogger:
    def __init__(self, backend: Any, batch_size: int = 5000, flush_seconds: float = 1.0) -> None:
        self._backend = backend
        self._batch_size = max(1, batch_size)
        self._flush_seconds = flush_seconds
        self._buffer: dict[str, list[tuple[str, float, int, int]]] = defaultdict(list)
        self._pending = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._error: BaseException | None = None
        self._known_keys: set[str] = set()
        self._thread = threading.Thread(target=self._loop, name="slipway-metric-logger", daemon=True)
        self._thread.start()
        _LOGGERS.add(self)

    def log(self, run_id: str, key: str, value: Any, step: int, ts: int | None = None) -> None:
        if key not in self._known_keys:
            check_key(key, "metric key")
            self._known_keys.add(key)
        number = check_number(value, f"metric {key!r}")
        with self._lock:
            self._buffer[run_id].append((key, number, int(step), ts if ts is not None else now_ms()))
            self._pending += 1
            full = self._pending >= self._batch_size
        if full:
            self._wake.set()

    def _take(self, run_id: str | None = None) -> dict[str, list[tuple[str, float, int, int]]]:
        with self._lock:
            if run_id is None:
                taken, self._buffer = dict(self._buffer), defaultdict(list)
                self._pending = 0
            else:
                points = self._buffer.pop(run_id, [])
                self._pending -= len(points)
                taken = {run_id: points} if points else {}
        return taken

    def _write(self, batches: dict[str, list[tuple[str, float, int, int]]]) -> None:
        # One run's failure must not cost the other runs their points: write every run, then raise
        # the first error. Points that failed only because the store or server was unreachable
        # go back in the buffer for the next flush; points the backend refused are dropped.
        first_error: BaseException | None = None
        with self._write_lock:
            for run_id, points in batches.items():
                for start in range(0, len(points), 20_000):
                    try:
                        self._backend.log_batch(run_id, metrics=[_wire(p) for p in points[start : start + 20_000]])
                    except Exception as err:  # noqa: BLE001 - re-raised below
                        if isinstance(err, BackendUnavailable):
                            self._requeue(run_id, points[start:])
                        first_error = first_error or err
                        break
        if first_error is not None:
            raise first_error

    def _requeue(self, run_id: str, points: list[tuple[str, float, int, int]]) -> None:
        with self._lock:
            self._buffer[run_id][:0] = points
            self._pending += len(points)

    def flush(self, run_id: str | None = None) -> None:
        """Write what is buffered (for one run, or all) now; raise a background write's error."""
        self._write(self._take(run_id))
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            try:
                self._write(self._take())
            except SlipwayError as err:
                self._error = err
            except Exception as err:  # noqa: BLE001 - kept for the next flush to raise
                self._error = err


def _wire(point: tuple[str, float, int, int]) -> tuple[Any, ...]:
    key, value, step, ts = point
    if value != value or value in (float("inf"), float("-inf")):
        return (key, "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity"), step, ts)
    return point


@atexit.register
def _flush_all_at_exit() -> None:
    for logger in list(_LOGGERS):
        try:
            logger.flush()
        except Exception as err:  # noqa: BLE001 - at exit no caller is left to raise to, so say it
            sys.stderr.write(f"slipway: metric points could not be written at exit: {err}\n")
