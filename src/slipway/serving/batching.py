"""Adaptive micro-batching: merge concurrent requests for one model into one ``predict`` call.

The rule: a request that finds the model idle runs at once (on the model's thread, so the event
loop stays free), so a lone caller pays nothing for batching. While a batch is running, new
requests queue; when it finishes, everything queued (up to ``max_batch_rows``) goes in the next
batch. Waiting beyond that happens only when it pays off: if requests have recently been arriving
faster than one per ``max_wait_ms`` the batcher holds a non-full batch for at most
``max_wait_ms`` to let more join.
A failed batch is retried request by request, so one bad request cannot fail its neighbours.
Each batch's time, rows and queueing go to the metrics in :meth:`MicroBatcher.record_batches`,
which the server calls once the answer is sent, so a request does not wait for the bookkeeping.
The model calls that do not go through the batches (``predict_proba``, a ranking model's named
outputs) run through :meth:`MicroBatcher.call`, which records them the same way (one request's
rows, no queueing), so the batch metrics count every call of the model.

A model whose batches take under ``inline_ms`` (measured: the estimate follows a faster call at
once and a slower one by a tenth of the difference, so a call stretched by preemption on a busy
machine does not move a fast model off the loop) runs on the event loop itself:
handing a 0.1 ms call to a thread and back would cost more than the call. The first request of a
loop turn runs at once; requests parsed later in the same turn queue and run as one batch on the
next turn (``call_soon``), so a lone caller pays nothing and a burst still forms batches.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import math
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from slipway.serving.frame import Frame, concat_frames
from slipway.serving.metrics import VariantMetrics

Predict = Callable[[Frame], np.ndarray]
T = TypeVar("T")


class _Pending:
    __slots__ = ("enqueued", "frame", "future")

    def __init__(self, frame: Frame, future: asyncio.Future[np.ndarray]) -> None:
        self.frame = frame
        self.future = future
        self.enqueued = time.perf_counter()


class MicroBatcher:
    """Batches requests for one model on the running event loop."""

    def __init__(self, predict: Predict, metrics: VariantMetrics | None = None, max_batch_rows: int = 256,
                 max_wait_ms: float = 2.0, executor: concurrent.futures.Executor | None = None,
                 inline_ms: float = 1.0) -> None:
        self._predict = predict
        self.metrics = metrics
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_ms / 1000.0
        self.inline_s = inline_ms / 1000.0
        self._executor = executor or concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="slipway-predict")
        self._queue: list[_Pending] = []
        self._busy = False
        self._scheduled = False  # an inline batch is due on the next loop turn
        self._worker: asyncio.Task[None] | None = None
        self._last_arrival = 0.0
        self._gap_ewma = 1.0  # seconds between arrivals, smoothed
        self.batch_seconds = math.inf  # model time per batch, smoothed; unknown until the first batch
        # (seconds, rows, queued seconds) of batches not yet in the metrics; a deque, as batches
        # finish on the model's thread while record_batches runs on the loop.
        self._finished: collections.deque[tuple[float, int, float]] = collections.deque()

    async def predict(self, frame: Frame) -> np.ndarray:
        """This frame's predictions, computed alone or in a batch with concurrent requests."""
        now = time.perf_counter()
        self._gap_ewma = 0.8 * self._gap_ewma + 0.2 * (now - self._last_arrival)
        self._last_arrival = now
        if self.batch_seconds < self.inline_s and not self._busy:
            loop = asyncio.get_running_loop()
            if not self._queue and not self._scheduled:
                # The first request of this loop turn runs now; the ones parsed later in the same
                # turn queue behind it and run as one batch on the next turn.
                self._scheduled = True
                loop.call_soon(self._run_inline)
                return self._run(frame, 0.0)
            future: asyncio.Future[np.ndarray] = loop.create_future()
            self._queue.append(_Pending(frame, future))
            if not self._scheduled:
                self._scheduled = True
                loop.call_soon(self._run_inline)
            return await future
        if not self._busy and not self._queue:
            # Idle model: run now, but off the event loop, so requests arriving meanwhile are parsed
            # and queued (they form the next batch) instead of waiting behind this one.
            self._busy = True
            try:
                return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, frame, 0.0)
            finally:
                self._busy = False
                if self._queue:
                    self._start_worker()
        queued: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(frame, queued))
        self._start_worker()
        return await queued

    async def call(self, compute: Callable[[Frame], T], frame: Frame) -> T:
        """``compute(frame)`` alone on a worker thread, outside the batches (``predict_proba``, named
        outputs), its time and rows recorded like a batch's, with no queueing."""
        return await asyncio.to_thread(self._timed, compute, frame)

    def _timed(self, compute: Callable[[Frame], T], frame: Frame) -> T:
        start = time.perf_counter()
        result = compute(frame)
        if self.metrics is not None:
            self._finished.append((time.perf_counter() - start, frame.n_rows, 0.0))
        return result

    def _run_inline(self) -> None:
        """Everything queued, in batches, on the event loop (a fast model's path)."""
        self._scheduled = False
        if self._busy:  # a batch is running on the model's thread; the drain task takes these after it
            self._start_worker()
            return
        while self._queue:
            batch = self._take_batch()
            queued = time.perf_counter() - batch[0].enqueued
            try:
                outputs = self._run(concat_frames([p.frame for p in batch]), queued)
            except Exception as err:
                for item in batch:  # isolate the request that broke the batch
                    if len(batch) == 1:
                        _settle(item.future, error=err)
                        continue
                    try:
                        _settle(item.future, result=self._run(item.frame, queued))
                    except Exception as single_err:
                        _settle(item.future, error=single_err)
                continue
            _settle_all(batch, outputs)

    def _start_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._drain())

    def _run(self, frame: Frame, queued_s: float) -> np.ndarray:
        start = time.perf_counter()
        result = self._predict(frame)
        elapsed = time.perf_counter() - start
        previous = self.batch_seconds
        # Down at once, up slowly: on a busy machine a call preempted by another process looks
        # many times slower than it is, and a plain average would then send a fast model to the
        # thread (two extra wake-ups per request, each a wait for a CPU) exactly when CPUs are
        # scarce. A model that really got slower still crosses the threshold after a few calls.
        if elapsed <= previous:
            self.batch_seconds = elapsed
        else:
            self.batch_seconds = previous + 0.1 * (elapsed - previous)
        if self.metrics is not None:
            self._finished.append((elapsed, frame.n_rows, queued_s))
        return result

    def record_batches(self) -> None:
        """Put the finished batches' time, rows and queueing into the metrics."""
        finished = self._finished
        metrics = self.metrics
        while finished:
            elapsed, rows, queued_s = finished.popleft()
            if metrics is not None:
                metrics.batch_time.observe(elapsed)
                metrics.batch_size.observe(rows)
                metrics.queue_time.observe(queued_s)

    def _take_batch(self) -> list[_Pending]:
        taken: list[_Pending] = []
        rows = 0
        while self._queue and (not taken or rows + self._queue[0].frame.n_rows <= self.max_batch_rows):
            item = self._queue.pop(0)
            taken.append(item)
            rows += item.frame.n_rows
        return taken

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            if self._busy:
                return  # the running call restarts this worker when it finishes
            queued_rows = sum(p.frame.n_rows for p in self._queue)
            if queued_rows < self.max_batch_rows and self._gap_ewma < self.max_wait_s:
                # Arrivals are dense: a short wait fills the batch for less than it costs to run twice.
                deadline = self._queue[0].enqueued + self.max_wait_s
                while time.perf_counter() < deadline and sum(p.frame.n_rows for p in self._queue) < self.max_batch_rows:
                    await asyncio.sleep(min(0.0005, max(0.0, deadline - time.perf_counter())))
            batch = self._take_batch()
            self._busy = True
            try:
                await self._run_batch(loop, batch)
            finally:
                self._busy = False

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        queued = started - batch[0].enqueued
        frames = [p.frame for p in batch]
        try:
            merged = concat_frames(frames)
            outputs = await loop.run_in_executor(self._executor, self._run, merged, queued)
        except Exception as err:
            if len(batch) == 1:
                _settle(batch[0].future, error=err)
                return
            for item in batch:  # isolate the request that broke the batch
                try:
                    result = await loop.run_in_executor(self._executor, self._run, item.frame, queued)
                    _settle(item.future, result=result)
                except Exception as single_err:
                    _settle(item.future, error=single_err)
            return
        _settle_all(batch, outputs)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _settle_all(batch: list[_Pending], outputs: np.ndarray) -> None:
    if len(batch) == 1:
        _settle(batch[0].future, result=outputs)
        return
    offset = 0
    for item in batch:
        _settle(item.future, result=outputs[offset:offset + item.frame.n_rows])
        offset += item.frame.n_rows


def _settle(future: asyncio.Future[np.ndarray], result: np.ndarray | None = None,
            error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]
