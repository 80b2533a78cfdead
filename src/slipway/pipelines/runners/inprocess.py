"""The default runner: steps run one after another in the driving process.

It has no per-step process or serialisation cost, which is what keeps framework overhead per
step in the low milliseconds. A timeout runs the attempt in a thread and abandons it when late.
"""

from __future__ import annotations

from concurrent.futures import Future

from slipway.pipelines.runners.base import Task, TaskResult
from slipway.pipelines.runners.task import execute_task


class InProcessRunner:
    name = "inprocess"
    parallel = False

    def submit(self, task: Task) -> Future[TaskResult]:
        future: Future[TaskResult] = Future()
        future.set_result(execute_task(task, thread_timeout=True))
        return future

    def close(self) -> None:
        return None
