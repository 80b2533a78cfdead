"""The runner interface and the task a runner executes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from slipway.pipelines.context import StepContext


@dataclasses.dataclass(frozen=True)
class StepLocator:
    """How a worker process finds a step function: by module, or by file when the module was
    loaded from a path (``slipway pipelines run file.py:name``)."""

    module: str
    qualname: str
    file: str | None


@dataclasses.dataclass
class Task:
    locator: StepLocator
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    context: StepContext | None
    timeout: float | None
    outputs: tuple[str, ...] = ("output",)
    step: str = ""
    keep_value: bool = True  # in-process: also return the value itself, not only its bytes
    fn: Callable[..., Any] | None = None  # set in-process only; workers locate the function

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["fn"] = None
        return state


@dataclasses.dataclass
class TaskResult:
    ok: bool
    value: Any = None  # only when the task asked to keep it (in-process)
    encoded: dict[str, tuple[str, bytes]] = dataclasses.field(default_factory=dict)  # output -> (kind, bytes)
    logs: str = ""
    error: str | None = None
    traceback: str | None = None
    timed_out: bool = False
    start_ms: int = 0
    end_ms: int = 0
    lineage: list[list[str]] = dataclasses.field(default_factory=list)


class Runner(Protocol):
    name: str
    parallel: bool

    def submit(self, task: Task) -> Future[TaskResult]:
        """Start ``task``; the future never raises, failures are a TaskResult with ``ok=False``."""

    def close(self) -> None: ...
