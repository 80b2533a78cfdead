"""A pool of worker processes; a step that overruns its timeout has its worker killed.

``concurrent.futures.ProcessPoolExecutor`` cannot stop one task, so the pool is small and our
own: each worker serves one task at a time over a pipe; a dispatcher thread hands out tasks,
collects results, kills a worker whose task is late (and starts a fresh one), and reports a
worker that died (a segfault, the OOM killer) as a failed attempt instead of hanging.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
from concurrent.futures import Future
from multiprocessing.connection import Connection, wait
from typing import Any

from slipway.core.clock import now_ms
from slipway.pipelines.runners.base import Task, TaskResult


def _serve(conn: Connection) -> None:
    from slipway.pipelines.runners.task import execute_task

    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        result = execute_task(task)
        try:
            conn.send(result)
        except Exception as err:  # the return value cannot be pickled
            conn.send(TaskResult(False, error=f"the step's return value cannot be sent back: {err}",
                                 logs=result.logs, start_ms=result.start_ms, end_ms=result.end_ms))


class _Worker:
    def __init__(self, context: Any) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), daemon=True, name="slipway-step-worker")
        self.process.start()
        child.close()
        self.job: tuple[Task, Future[TaskResult], float | None] | None = None


class ProcessPoolRunner:
    name = "process"
    parallel = True

    def __init__(self, workers: int | None = None, start_method: str | None = None) -> None:
        # forkserver: workers fork from a clean single-threaded server that already imported the
        # heavy modules, so a new (or replacement) worker starts in milliseconds, without the
        # hazards of forking this multi-threaded process. spawn where forkserver does not exist.
        method = start_method or ("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
        self._context = mp.get_context(method)
        if method == "forkserver":
            self._context.set_forkserver_preload(["numpy", "pyarrow", "slipway.pipelines.runners.task"])
        self._size = max(1, workers or os.cpu_count() or 2)
        self._workers: list[_Worker] = []
        self._queue: queue.SimpleQueue[tuple[Task, Future[TaskResult]] | None] = queue.SimpleQueue()
        self._wake_read, self._wake_write = self._context.Pipe(duplex=False)
        self._closed = False
        self._broken = ""
        self._thread = threading.Thread(target=self._dispatch, daemon=True, name="slipway-pool-dispatcher")
        self._thread.start()

    def submit(self, task: Task) -> Future[TaskResult]:
        future: Future[TaskResult] = Future()
        if self._broken:
            future.set_result(TaskResult(False, error=self._broken, start_ms=now_ms(), end_ms=now_ms()))
            return future
        self._queue.put((task, future))
        self._wake_write.send(b"")
        return future

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._wake_write.send(b"")
        self._thread.join(timeout=30)

    # -- the dispatcher thread -----------------------------------------------------------------
    def _dispatch(self) -> None:
        waiting: list[tuple[Task, Future[TaskResult]]] = []
        try:
            self._dispatch_loop(waiting)
        except BaseException as err:  # never leave a caller waiting on a future nobody will set
            message = f"the process pool stopped: {type(err).__name__}: {err}"
            jobs = [(t, f) for w in self._workers if w.job for t, f, _ in [w.job]]
            for _task, future in [*waiting, *jobs]:
                if not future.done():
                    future.set_result(TaskResult(False, error=message, start_ms=now_ms(), end_ms=now_ms()))
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None and not item[1].done():
                    item[1].set_result(TaskResult(False, error=message, start_ms=now_ms(), end_ms=now_ms()))
            self._broken = message
            for worker in self._workers:
                worker.process.kill()

    def _dispatch_loop(self, waiting: list[tuple[Task, Future[TaskResult]]]) -> None:
        stopping = False
        while not stopping or any(w.job for w in self._workers):
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                else:
                    waiting.append(item)
            self._assign(waiting)
            busy = [w for w in self._workers if w.job]
            if stopping and not busy:
                break
            deadlines = [w.job[2] for w in busy if w.job and w.job[2] is not None]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            ready = wait([self._wake_read, *(w.conn for w in busy), *(w.process.sentinel for w in busy)], timeout)
            if self._wake_read in ready:
                while self._wake_read.poll():
                    self._wake_read.recv_bytes()
            for worker in busy:
                self._collect(worker, ready)
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except (OSError, BrokenPipeError):
                pass
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()

    def _assign(self, waiting: list[tuple[Task, Future[TaskResult]]]) -> None:
        while waiting:
            idle = next((w for w in self._workers if w.job is None and w.process.is_alive()), None)
            if idle is None and len(self._workers) < self._size:
                try:
                    idle = _Worker(self._context)
                except Exception as err:  # e.g. a script without an ``if __name__ == "__main__":`` guard
                    task, future = waiting.pop(0)
                    future.set_result(TaskResult(False, error=f"cannot start a worker process: {err}".strip(),
                                                 start_ms=now_ms(), end_ms=now_ms()))
                    continue
                self._workers.append(idle)
            if idle is None:
                return
            task, future = waiting.pop(0)
            deadline = time.monotonic() + task.timeout if task.timeout else None
            try:
                idle.conn.send(task)
            except Exception as err:  # an argument cannot be pickled
                future.set_result(TaskResult(False, error=f"cannot send the step's inputs to a worker: {err}",
                                             start_ms=now_ms(), end_ms=now_ms()))
                continue
            idle.job = (task, future, deadline)

    def _collect(self, worker: _Worker, ready: list[Any]) -> None:
        assert worker.job is not None
        task, future, deadline = worker.job
        if worker.conn in ready:
            try:
                result = worker.conn.recv()
            except (EOFError, OSError):
                result = None
            if result is not None:
                worker.job = None
                future.set_result(result)
                return
        if worker.process.sentinel in ready or not worker.process.is_alive():
            self._replace(worker)
            code = worker.process.exitcode
            future.set_result(TaskResult(False, error=f"the worker process died (exit code {code}) while running the step",
                                         start_ms=now_ms(), end_ms=now_ms()))
            return
        if deadline is not None and time.monotonic() >= deadline:
            worker.process.kill()
            worker.process.join(timeout=5)
            self._replace(worker)
            future.set_result(TaskResult(False, error=f"StepTimeout: step took longer than its timeout of {task.timeout:g} s; "
                                                      "its worker process was killed", timed_out=True,
                                         start_ms=now_ms(), end_ms=now_ms()))

    def _replace(self, worker: _Worker) -> None:
        worker.job = None
        self._workers.remove(worker)
        worker.conn.close()
