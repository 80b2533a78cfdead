"""``@step`` and ``@pipeline``: plain Python functions as a DAG.

Example::

    from slipway.pipelines import pipeline, step

    @step
    def load(rows: int) -> pa.Table: ...

    @step(retries=2, backoff=0.5, timeout=600)
    def train(table: pa.Table, n_estimators: int = 100): ...

    @pipeline
    def churn(rows: int = 2000, n_estimators: int = 100):
        model = train(load(rows), n_estimators=n_estimators)

Inside a pipeline function a step call returns a reference to its output; the DAG follows from
which references are passed where. Outside a pipeline a step is an ordinary function.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any, overload

from slipway.core.errors import InvalidInput
from slipway.pipelines.graph import (
    GatherRef,
    Graph,
    GraphBuilder,
    StepCall,
    building,
    current_builder,
    done_building,
)

RESERVED = ("when",)


class Step:
    """A decorated step function and its options (see :func:`step`)."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, outputs: tuple[str, ...] = ("output",),
                 cache: bool = True, cache_ttl: float | None = None, retries: int = 0, backoff: float = 1.0,
                 timeout: float | None = None, env: dict[str, Any] | None = None, local: bool = False,
                 cache_key_extra: Callable[..., Any] | None = None, datasets: tuple[str, ...] | str = (),
                 on_cache_hit: Callable[..., Any] | None = None) -> None:
        if not callable(fn):
            raise InvalidInput(f"@step decorates a function, not {fn!r}")
        parameters = inspect.signature(fn).parameters
        datasets = (datasets,) if isinstance(datasets, str) else tuple(datasets)
        unknown = [d for d in datasets if d not in parameters]
        if unknown:
            raise InvalidInput(f"step {fn.__name__!r} declares datasets={unknown!r}, which are not its parameters")
        for reserved in RESERVED:
            if reserved in parameters:
                raise InvalidInput(f"step {fn.__name__!r} may not have a parameter named {reserved!r} (it is reserved)")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInput(f"retries must be a whole number >= 0, got {retries!r}")
        if not isinstance(backoff, int | float) or backoff < 0:
            raise InvalidInput(f"backoff must be a number of seconds >= 0, got {backoff!r}")
        if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
            raise InvalidInput(f"timeout must be a positive number of seconds, got {timeout!r}")
        if cache_ttl is not None and (not isinstance(cache_ttl, int | float) or cache_ttl <= 0):
            raise InvalidInput(f"cache_ttl must be a positive number of seconds, got {cache_ttl!r}")
        if isinstance(outputs, str):
            outputs = (outputs,)
        if not outputs or len(set(outputs)) != len(outputs) or not all(isinstance(o, str) and o for o in outputs):
            raise InvalidInput(f"outputs must be distinct non-empty names, got {outputs!r}")
        self.fn = fn
        self.name = name or fn.__name__
        self.outputs = tuple(outputs)
        self.cache = cache
        self.cache_ttl = cache_ttl
        self.retries = retries
        self.backoff = float(backoff)
        self.timeout = float(timeout) if timeout is not None else None
        self.env = dict(env or {})
        self.local = local
        self.cache_key_extra = cache_key_extra
        self.datasets = datasets
        self.on_cache_hit = on_cache_hit
        self.wants_context = "context" in parameters
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", self.name)
        self.__module__ = getattr(fn, "__module__", __name__)
        self.__qualname__ = getattr(fn, "__qualname__", self.name)

    def __call__(self, *args: Any, when: Any = None, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is None:
            # Outside a pipeline a step is its function, so it can be unit-tested directly.
            return self.fn(*args, **kwargs)
        self._check_arguments(args, kwargs)
        return builder.add(self, args, kwargs, when)

    def map(self, items: list[Any], *, when: Any = None, **kwargs: Any) -> GatherRef:
        """Fan out: one call per item (as the first argument); downstream steps get a list of outputs."""
        builder = current_builder()
        if builder is None:
            return [self.fn(item, **kwargs) for item in items]  # type: ignore[return-value]
        if isinstance(items, GatherRef) or not isinstance(items, list | tuple):
            raise InvalidInput(f"{self.name}.map takes a list of items known when the pipeline is built, not {items!r}")
        self._check_arguments((items[0],) if items else (None,), kwargs)
        return builder.add_map(self, list(items), kwargs, when)

    def _check_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            signature = inspect.signature(self.fn)
            if self.wants_context:
                signature.bind_partial(*args, **kwargs)
            else:
                signature.bind(*args, **kwargs)
        except TypeError as err:
            raise InvalidInput(f"step {self.name!r}: {err}") from err

    def __repr__(self) -> str:
        return f"Step({self.name!r})"


@overload
def step(fn: Callable[..., Any], /) -> Step: ...
@overload
def step(*, name: str | None = None, outputs: tuple[str, ...] | str = ("output",), cache: bool = True,
         cache_ttl: float | None = None, retries: int = 0, backoff: float = 1.0, timeout: float | None = None,
         env: dict[str, Any] | None = None, local: bool = False,
         cache_key_extra: Callable[..., Any] | None = None, datasets: tuple[str, ...] | str = (),
         on_cache_hit: Callable[..., Any] | None = None) -> Callable[[Callable[..., Any]], Step]: ...


def step(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Make a function a pipeline step.

    Args:
        outputs: names of the outputs when the function returns a tuple of several.
        cache: reuse stored outputs when code, parameters, input digests and ``env`` are unchanged.
        cache_ttl: seconds a cached result stays valid (default: forever).
        retries: extra attempts after a failure, waiting ``backoff * 2**attempt`` seconds between.
        timeout: seconds an attempt may take; it fails with ``StepTimeout`` after that.
        env: declared environment (e.g. ``{"sklearn": "1.9"}``); part of the cache key.
        local: run in the driving process even with a process-pool or Ray runner (for steps that
            use ``context.workspace``).
        cache_key_extra: ``fn(context, *args, **kwargs)`` (the step's resolved arguments) returning
            JSON-able state outside the DAG the result depends on (e.g. the current champion),
            added to the cache key.
        datasets: names of parameters that name a dataset version (``"ai4i"`` for the latest,
            ``"ai4i@3"``, or a ``DatasetVersion``). The platform resolves each to one version
            before the step (the step receives ``"ai4i@3"``; the version and its digest enter the
            cache key) and records it as read by this step and by everything downstream of it:
            lineage edges to the pipeline run, inputs of tracking runs started in later steps,
            and so the training data of models registered from them. Cached or not.
        on_cache_hit: ``fn(context, *args, **kwargs)`` run in the driving process when the step's
            outputs come from the cache, for platform records that must exist either way (the
            built-in ``validate_data`` records its verdict for governance with it).
    """
    if fn is not None:
        return Step(fn)
    return lambda function: Step(function, **options)


class Pipeline:
    """A decorated pipeline function; its parameters (with defaults) are the pipeline's parameters."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.signature = inspect.signature(fn)
        self.__doc__ = fn.__doc__
        self.__module__ = getattr(fn, "__module__", __name__)
        self.__qualname__ = getattr(fn, "__qualname__", self.name)

    @property
    def defaults(self) -> dict[str, Any]:
        return {n: p.default for n, p in self.signature.parameters.items() if p.default is not inspect.Parameter.empty}

    def resolve_params(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overridden by ``overrides``; strings (from the CLI) become the default's type."""
        params = self.defaults
        names = set(self.signature.parameters)
        for key, value in (overrides or {}).items():
            if key not in names:
                raise InvalidInput(f"pipeline {self.name!r} has no parameter {key!r}; it has {sorted(names)}")
            params[key] = coerce_param(key, value, params.get(key))
        missing = sorted(names - set(params))
        if missing:
            raise InvalidInput(f"pipeline {self.name!r} needs parameters {missing}; pass them with -p key=value")
        return params

    def build(self, overrides: dict[str, Any] | None = None) -> Graph:
        """Run the pipeline function to collect its DAG (no step runs)."""
        params = self.resolve_params(overrides)
        builder = GraphBuilder(self.name, params)
        token = building(builder)
        try:
            self.fn(**params)
        finally:
            done_building(token)
        if not builder.graph.nodes:
            raise InvalidInput(f"pipeline {self.name!r} calls no steps")
        return builder.graph

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInput(f"run a pipeline with ws.pipelines.run({self.name}, params={{...}}), not by calling it")

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r})"


def pipeline(fn: Callable[..., Any] | None = None, /, *, name: str | None = None) -> Any:
    """Make a function a pipeline: its body calls steps; its parameters can be overridden per run."""
    if fn is not None:
        return Pipeline(fn, name)
    return lambda function: Pipeline(function, name)


def coerce_param(key: str, value: Any, default: Any) -> Any:
    """A parameter from the command line (a string) as the type of its default."""
    if not isinstance(value, str) or isinstance(default, str) or (default is None and not _looks_json(value)):
        return value
    try:
        if isinstance(default, bool):
            lowered = value.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return lowered in ("true", "1", "yes")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        return json.loads(value)
    except ValueError as err:
        kind = type(default).__name__ if default is not None else "JSON"
        raise InvalidInput(f"parameter {key}={value!r} is not a valid {kind}") from err


def _looks_json(value: str) -> bool:
    return value[:1] in ("[", "{")


__all__ = ["Pipeline", "Step", "StepCall", "pipeline", "step"]
