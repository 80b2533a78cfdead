"""Payload logging: every request's rows, outputs, variant, version and latency to Parquet.

Requests append to an in-memory buffer (a list append on the event loop); a background thread
turns the buffer into Parquet segments in the artifact store, by size or age, and indexes each
segment through ``record_segment`` (the deployment backend). Memory is bounded: past
``max_buffer_rows`` a request waits for the writer instead of growing the buffer. Each entry is
first written ahead to a local spool file (:mod:`slipway.serving.spool`), so a killed server's
answered predictions are replayed into segments by the next one; a segment that cannot be written
is kept and retried, never dropped (``slipway_payload_segment_write_failures_total`` counts the
failures, ``slipway_payload_log_unwritten_rows`` what waits, and
``slipway_payload_log_dropped_total`` the only loss there is: a spool line cut off by a kill).
:meth:`close` flushes what is left, so a graceful shutdown loses nothing.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from slipway.core.clock import now_ms
from slipway.serving.frame import Frame
from slipway.serving.spool import Spool, SpoolFile

log = logging.getLogger("slipway.serving.payload")
SegmentSink = Callable[[dict[str, Any]], None]
TABLE_PIECE = 200  # entries turned into Arrow per step of the writer (see _write_segment)


class PayloadEntry:
    __slots__ = ("deployment", "frame", "latency_ms", "model", "outputs", "request_id", "status", "ts_ms",
                 "variant", "version")

    def __init__(self, request_id: str, deployment: str, variant: str, model: str, version: str, frame: Frame,
                 outputs: np.ndarray | None, latency_ms: float, status: int) -> None:
        self.request_id = request_id
        self.deployment = deployment
        self.variant = variant
        self.model = model
        self.version = version
        self.frame = frame
        self.outputs = outputs
        self.latency_ms = latency_ms
        self.status = status
        self.ts_ms = now_ms()


def entries_to_table(entries: list[PayloadEntry]) -> pa.Table:
    """One row per predicted row: request metadata, ``input.<column>`` and ``output`` columns."""
    counts = np.array([e.frame.n_rows for e in entries])
    meta = {
        "request_id": [e.request_id for e in entries], "ts_ms": [e.ts_ms for e in entries],
        "deployment": [e.deployment for e in entries], "variant": [e.variant for e in entries],
        "model": [e.model for e in entries], "version": [e.version for e in entries],
        "latency_ms": [e.latency_ms for e in entries], "status": [e.status for e in entries],
    }
    columns: dict[str, Any] = {k: np.repeat(np.asarray(v, dtype=object if k in {
        "request_id", "deployment", "variant", "model", "version"} else None), counts) for k, v in meta.items()}
    columns["row"] = np.concatenate([np.arange(n) for n in counts])
    for name in entries[0].frame.columns:
        columns[f"input.{name}"] = np.concatenate([e.frame.columns[name] for e in entries])
    outputs = [e.outputs if e.outputs is not None else np.full(e.frame.n_rows, np.nan) for e in entries]
    merged = np.concatenate([o.reshape(o.shape[0], -1) for o in outputs])
    if merged.shape[1] == 1:
        columns["output"] = merged[:, 0]
    else:
        for i in range(merged.shape[1]):
            columns[f"output.{i}"] = merged[:, i]
    return pa.table({k: pa.array(v.tolist() if v.dtype == object else v) for k, v in columns.items()})


class PayloadLogger:
    """Buffers payload entries and writes them as Parquet segments from a background thread; with
    a ``spool`` (see :mod:`slipway.serving.spool`) each entry is written ahead to a local file
    first, and the files of a killed server are replayed when the next one starts."""

    def __init__(self, blobs: Any, record_segment: SegmentSink, segment_rows: int = 5000,
                 flush_seconds: float = 2.0, max_buffer_rows: int = 200_000, spool: Spool | None = None,
                 metrics: Any = None, sync_seconds: float = 0.05, retry_seconds: float = 1.0) -> None:
        self._blobs = blobs
        self._record_segment = record_segment
        self.segment_rows = segment_rows
        self.flush_seconds = flush_seconds
        self.max_buffer_rows = max_buffer_rows
        self.sync_seconds = sync_seconds
        self.retry_seconds = retry_seconds
        self._spool = spool
        self._metrics = metrics  # ServingMetrics: dropped rows, failed writes, pending rows
        self._buffer: list[PayloadEntry] = []
        self._rows = 0
        self._cond = threading.Condition()
        self._stopping = False
        self.segments_written = 0
        # Batches not yet in segments, each with the spool file that holds it: the orphans of dead
        # servers first, then any batch whose write failed (retried every retry_seconds).
        self._unwritten: list[tuple[SpoolFile | None, list[PayloadEntry]]] = []
        self._thread = threading.Thread(target=self._loop, name="slipway-payload-log", daemon=True)
        self._thread.start()

    def log(self, entry: PayloadEntry) -> bool:
        """Write ``entry`` ahead to the spool, then buffer it; False when the buffer is full (call
        :meth:`wait_for_room` off-loop)."""
        with self._cond:
            if self._spool is not None:
                try:
                    self._spool.append(entry)
                except (OSError, TypeError, ValueError) as err:  # still buffered, but not kill-safe
                    self._count("payload_spool_errors")
                    log.error("payload spool write failed (the entry is kept in memory only): %s", err)
            self._buffer.append(entry)
            self._rows += entry.frame.n_rows
            if self._rows >= self.segment_rows:
                self._cond.notify_all()
            return self._rows < self.max_buffer_rows

    def wait_for_room(self, timeout: float = 30.0) -> None:
        with self._cond:
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._rows < self.max_buffer_rows or self._stopping, timeout)

    def _count(self, name: str, amount: float = 1) -> None:
        if self._metrics is not None:
            getattr(self._metrics, name).inc(amount)

    def _loop(self) -> None:
        if self._spool is not None:
            try:
                self._replay_orphans()
            except Exception:  # an unreadable spool folder must not stop this server's own logging
                self._count("payload_spool_errors")
                log.exception("replaying the payload spool failed; the files stay for the next start")
        last_flush = last_retry = time.monotonic()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._rows >= self.segment_rows or self._stopping,
                                    self.sync_seconds if self._spool is not None else self.flush_seconds)
                now = time.monotonic()
                stopping = self._stopping
                batch: list[PayloadEntry] = []
                spooled: SpoolFile | None = None
                if self._rows >= self.segment_rows or stopping or now - last_flush >= self.flush_seconds:
                    batch, self._buffer, self._rows, last_flush = self._buffer, [], 0, now
                    spooled = self._spool.rotate() if self._spool is not None else None
                    self._cond.notify_all()
            if self._spool is not None:
                self._sync()
            if batch:
                self._unwritten.append((spooled, batch))
            elif spooled is not None:
                spooled.remove()
            if self._unwritten and (batch or stopping or now - last_retry >= self.retry_seconds):
                last_retry = now
                self._write_unwritten(attempts=5 if stopping else 1)
            if stopping:
                for spooled, _entries in self._unwritten:  # left for the next server to replay
                    if spooled is not None:
                        spooled.release()
                if self._unwritten:
                    log.error("payload log: %d entries could not be written; they stay in the spool for the next "
                              "server to replay", sum(len(e) for _, e in self._unwritten))
                return

    def _sync(self) -> None:
        try:
            assert self._spool is not None
            self._spool.sync()
        except OSError as err:
            self._count("payload_spool_errors")
            log.error("payload spool sync failed: %s", err)

    def _replay_orphans(self) -> None:
        """Queue the spool files of dead servers (answered, maybe never written) for writing."""
        assert self._spool is not None
        for orphan in self._spool.orphans():
            entries, bad = orphan.read()
            if bad:
                self._count("payload_dropped_entries", bad)
                log.error("payload spool %s: %d unreadable line(s) (cut off by a kill mid-write) dropped",
                          orphan.path.name, bad)
            log.info("replaying %d payload entries from %s", len(entries), orphan.path.name)
            self._unwritten.append((orphan, entries))

    def _write_unwritten(self, attempts: int) -> None:
        pending, self._unwritten = self._unwritten, []
        for spooled, entries in pending:
            left = self._write(entries, attempts)
            if not left:
                if spooled is not None:
                    spooled.remove()
                continue
            if self._spool is not None and len(left) < len(entries):
                # Part of the batch is in segments: keep only the rest on disk, so a restart does
                # not write the other part twice.
                try:
                    replacement: SpoolFile | None = self._spool.rewrite(left)
                    if spooled is not None:
                        spooled.remove()
                    spooled = replacement
                except OSError as err:
                    log.error("payload spool rewrite failed: %s", err)
            self._unwritten.append((spooled, left))
        if self._metrics is not None:
            self._metrics.payload_unwritten_rows.set(sum(e.frame.n_rows for _, batch in self._unwritten for e in batch))

    def _write(self, entries: list[PayloadEntry], attempts: int) -> list[PayloadEntry]:
        """Write ``entries`` as segments; returns those that could not be written (kept for a retry)."""
        groups: dict[tuple[Any, ...], list[PayloadEntry]] = {}
        for entry in entries:  # a segment holds rows that share their columns
            width = 1 if entry.outputs is None else int(np.prod(entry.outputs.shape[1:], dtype=int))
            groups.setdefault((entry.deployment, tuple(entry.frame.columns), width), []).append(entry)
        left: list[PayloadEntry] = []
        for (deployment, _names, _width), group in groups.items():
            for attempt in range(attempts):
                try:
                    self._write_segment(deployment, group)
                    break
                except Exception:  # the store may be briefly unavailable; keep the rows and retry
                    self._count("payload_write_failures")
                    log.exception("payload segment write failed (attempt %d); the rows are kept", attempt + 1)
                    if attempt + 1 < attempts:
                        time.sleep(0.2 * (attempt + 1))
            else:
                left.extend(group)
        return left
    def _write_segment(self, deployment: str, group: list[PayloadEntry]) -> None:
        # Building the table is Python work under the GIL, which the event loop serving requests
        # also needs: in one go (5,000 entries) it held the loop back long enough to put ~14 ms on
        # the p99 of sub-millisecond requests. In small pieces, with the GIL handed back between
        # them, the loop waits at most one piece.
        pieces = []
        for start in range(0, len(group), TABLE_PIECE):
            pieces.append(entries_to_table(group[start:start + TABLE_PIECE]))
            time.sleep(0)
        table = pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces, promote_options="permissive")
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        digest = self._blobs.put_bytes(sink.getvalue())
        self._record_segment({
            "deployment": deployment, "digest": digest, "rows": table.num_rows, "requests": len(group),
            "first_ms": min(e.ts_ms for e in group), "last_ms": max(e.ts_ms for e in group),
            "columns": table.column_names,
        })
        self.segments_written += 1

    def close(self) -> None:
        """Flush everything buffered and stop the writer (what cannot be written stays in the
        spool, for the next server to replay)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=60)
