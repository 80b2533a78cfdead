"""Running one step attempt: find the function, capture its output and logs, catch its failure.

This is what every runner executes, in the driving process or in a worker.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import importlib.util
import io
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slipway.core.clock import now_ms
from slipway.pipelines.runners.base import StepLocator, Task, TaskResult
from slipway.pipelines.serializers import encode_outputs


def locate(locator: StepLocator) -> Callable[..., Any]:
    """The step function ``locator`` names, importing its module or loading its file."""
    module = sys.modules.get(locator.module)
    if module is None:
        try:
            module = importlib.import_module(locator.module)
        except ImportError:
            if not locator.file:
                raise
            module = load_file_module(locator.file, locator.module)
    target: Any = module
    for part in locator.qualname.split("."):
        target = getattr(target, part)
    return target.fn if hasattr(target, "fn") else target  # a Step, or a bare function


def load_file_module(path: str, module_name: str) -> Any:
    """Import a Python file as ``module_name``, with its package root on ``sys.path`` so its own
    imports resolve as they did where it was written."""
    file = Path(path).resolve()
    root = file.parent
    while (root / "__init__.py").exists():
        root = root.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    module.__slipway_file__ = str(file)  # type: ignore[attr-defined]
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


class _Capture(logging.Handler):
    def __init__(self, sink: io.StringIO) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.write(self.format(record) + "\n")


def execute_task(task: Task, fn: Callable[..., Any] | None = None, thread_timeout: bool = False) -> TaskResult:
    """Run one attempt of a step and report how it went (never raises for the step's errors)."""
    start = now_ms()
    sink = io.StringIO()
    kwargs = dict(task.kwargs)
    if task.context is not None:
        kwargs["context"] = task.context
    try:
        function = fn or task.fn or locate(task.locator)
    except Exception as err:  # the step cannot even be found: report it like a failure of the step
        return TaskResult(False, error=f"cannot load step {task.locator.qualname}: {err}",
                          traceback=traceback.format_exc(), start_ms=start, end_ms=now_ms())
    if thread_timeout and task.timeout:
        return _in_thread(task, function, kwargs, sink, start)
    return _call(task, function, kwargs, sink, start)


def _call(task: Task, function: Callable[..., Any], kwargs: dict[str, Any], sink: io.StringIO, start: int) -> TaskResult:
    root = logging.getLogger()
    handler = _Capture(sink)
    old_level = root.level
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            value = function(*task.args, **kwargs)
        result = TaskResult(True, value=value if task.keep_value else None,
                            encoded=encode_outputs(task.outputs, value, task.step or task.locator.qualname))
    except (Exception, SystemExit) as err:
        result = TaskResult(False, error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc())
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    result.logs = sink.getvalue()
    result.start_ms, result.end_ms = start, now_ms()
    result.lineage = list(task.context.lineage) if task.context is not None else []
    return result


def _in_thread(task: Task, function: Callable[..., Any], kwargs: dict[str, Any], sink: io.StringIO,
               start: int) -> TaskResult:
    # A thread cannot be killed: on timeout the attempt is abandoned (it runs on as a daemon) and
    # reported as timed out. Use the process or Ray runner to have the work itself stopped.
    box: list[TaskResult] = []
    context = contextvars.copy_context()  # the step sees what the driver set up for it (its activity)
    worker = threading.Thread(target=lambda: box.append(context.run(_call, task, function, kwargs, sink, start)), daemon=True,
                              name=f"slipway-step-{task.locator.qualname}")
    worker.start()
    worker.join(task.timeout)
    if box:
        return box[0]
    return TaskResult(False, error=f"StepTimeout: step took longer than its timeout of {task.timeout:g} s",
                      logs=sink.getvalue(), timed_out=True, start_ms=start, end_ms=now_ms())
