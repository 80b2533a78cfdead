"""Steps as Ray tasks (``--runner ray``; the ``ray`` extra).

Uses the Ray instance this process is connected to (a multi-node cluster: ``ray.init(address=…)``
before the run, or ``RAY_ADDRESS``), or starts a local one. A step that overruns its timeout is
cancelled with ``ray.cancel(force=True)``, which kills the worker running it.

A task whose worker or node dies (a node lost, the OOM killer) is retried by Ray up to
``max_retries`` times on the nodes left: a worker task only computes its outputs from its inputs
(the driver stores and records them), so running it again is safe. Exceptions the step raises
are not retried by Ray: those are the step's own ``retries``, recorded attempt by attempt.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from slipway.core.clock import now_ms
from slipway.core.errors import BackendUnavailable
from slipway.pipelines.runners.base import Task, TaskResult


def _run_on_ray(task: Task) -> TaskResult:
    from slipway.pipelines.runners.task import execute_task

    return execute_task(task)


class RayRunner:
    name = "ray"
    parallel = True

    def __init__(self, address: str | None = None, num_cpus: int | None = None, max_retries: int = 3) -> None:
        try:
            import ray
        except ImportError as err:
            raise BackendUnavailable("the Ray runner needs Ray: pip install 'slipway[ray]'") from err
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        self._remote = ray.remote(_run_on_ray).options(max_retries=max_retries, retry_exceptions=False, num_cpus=1)

    def submit(self, task: Task) -> Future[TaskResult]:
        ray = self._ray
        ref = self._remote.remote(task)
        result: Future[TaskResult] = Future()
        timer: threading.Timer | None = None
        if task.timeout:
            timer = threading.Timer(task.timeout, lambda: ray.cancel(ref, force=True))
            timer.daemon = True
            timer.start()

        def finished(inner: Future[Any]) -> None:
            if timer is not None:
                timer.cancel()
            try:
                result.set_result(inner.result())
            except Exception as err:
                cancelled = isinstance(err, ray.exceptions.TaskCancelledError) or "cancel" in type(err).__name__.lower()
                message = (f"StepTimeout: step took longer than its timeout of {task.timeout:g} s; its Ray task was cancelled"
                           if cancelled and task.timeout else f"the Ray task failed: {type(err).__name__}: {err}")
                result.set_result(TaskResult(False, error=message, timed_out=cancelled, start_ms=now_ms(), end_ms=now_ms()))

        ref.future().add_done_callback(finished)
        return result

    def close(self) -> None:
        return None  # the Ray instance outlives a pipeline run; whoever started it shuts it down
