"""Finding a pipeline by reference: ``path/to/file.py:name`` or ``package.module:name``."""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path
from typing import Any

from slipway.core.errors import InvalidInput, NotFound
from slipway.core.hashing import hash_bytes
from slipway.pipelines.dsl import Pipeline
from slipway.pipelines.runners.task import load_file_module


def file_module_name(path: Path) -> str:
    """A module name for a pipeline file that is the same in every process (workers re-load it)."""
    return f"slipway_pipeline_{path.stem}_{hash_bytes(str(path).encode())[:12]}"


def load_pipeline(ref: str) -> Pipeline:
    """The :class:`Pipeline` that ``ref`` names.

    Raises:
        InvalidInput: ``ref`` is malformed or names something that is not a pipeline.
        NotFound: the file or module does not exist.
    """
    if not isinstance(ref, str) or ":" not in ref:
        raise InvalidInput(f"pipeline reference {ref!r} must be 'path/to/file.py:name' or 'package.module:name'")
    where, _, name = ref.rpartition(":")
    module: Any
    if where.endswith(".py") or "/" in where:
        path = Path(where).resolve()
        if not path.is_file():
            raise NotFound(f"pipeline file {where} does not exist")
        if path.suffix != ".py":
            raise InvalidInput(f"pipeline file {where} is not a Python file (.py)")
        module_name = file_module_name(path)
        try:
            module = sys.modules.get(module_name) or load_file_module(str(path), module_name)
        except Exception as err:  # noqa: BLE001 - user code: a syntax or import error is bad input
            raise InvalidInput(f"cannot load pipeline file {where}: {describe_load_error(err)}") from err
    else:
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as err:
            raise NotFound(f"cannot import module {where!r} for pipeline {ref!r}: {err}") from err
        except Exception as err:  # noqa: BLE001 - user code: a syntax or import error is bad input
            raise InvalidInput(f"cannot import module {where!r} for pipeline {ref!r}: {describe_load_error(err)}") from err
    target: Any = module
    for part in name.split("."):
        target = getattr(target, part, None)
    if not isinstance(target, Pipeline):
        found = sorted(k for k, v in vars(module).items() if isinstance(v, Pipeline))
        raise InvalidInput(f"{where} has no pipeline named {name!r}; it has {found or 'none'}")
    return target


def describe_load_error(err: BaseException) -> str:
    """``err`` in one line, with the file and line it points at (a syntax error's, or the last
    frame of the traceback)."""
    if isinstance(err, SyntaxError):
        return f"SyntaxError: {err.msg} ({err.filename}, line {err.lineno})"
    frames = traceback.extract_tb(err.__traceback__)
    where = f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""
    return f"{type(err).__name__}: {err}{where}"


def pipeline_ref(pipe: Pipeline) -> str:
    """The reference a run records so that resume and the scheduler can find ``pipe`` again."""
    module = sys.modules.get(pipe.__module__)
    file = getattr(module, "__slipway_file__", None)
    if file:
        return f"{file}:{pipe.__qualname__}"
    if pipe.__module__ == "__main__" and getattr(module, "__file__", None):
        return f"{Path(module.__file__).resolve()}:{pipe.__qualname__}"  # type: ignore[union-attr, arg-type]
    return f"{pipe.__module__}:{pipe.__qualname__}"
