"""Which dataset versions a step reads, decided by the platform before the step runs.

A step names its dataset parameters (``@step(datasets=("dataset",))``). Before computing the
step's cache key the executor resolves each to one version (``"ai4i"`` means the latest now) and
passes the step that pinned version, so what the step reads, what its cache key says and what
lineage records are the same version. A step reads what it pins and everything its upstream
steps read; the executor records both whether the step runs, is served from the cache or is
reused by a resume (see :mod:`slipway.pipelines.executor`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from slipway.core.activity import ConsumedDataset
from slipway.core.errors import InvalidInput
from slipway.pipelines.dsl import Step

Call = tuple[tuple[Any, ...], dict[str, Any]]


def pin_datasets(step: Step, args: tuple[Any, ...], kwargs: dict[str, Any], resolve: Callable[[Any], Any],
                 data: Any) -> tuple[Call, list[ConsumedDataset]]:
    """The step's arguments with each declared dataset parameter pinned to ``name@version``, and
    the versions pinned.

    ``resolve`` turns an upstream reference into its value; ``data`` is the workspace's data
    service. Raises what ``data.get_version`` raises for an unknown dataset (NotFound), or
    InvalidInput for a value that names no dataset.
    """
    if not step.datasets:
        return (args, kwargs), []
    signature = inspect.signature(step.fn)
    bound = signature.bind_partial(*args, **kwargs)
    read: list[ConsumedDataset] = []
    for name in step.datasets:
        if name in bound.arguments:
            value = resolve(bound.arguments[name])
        else:
            value = signature.parameters[name].default
            if value is inspect.Parameter.empty:
                continue
        if value is None:
            continue  # an optional dataset that was not given
        if isinstance(value, str):
            version = data.get_version(value)
            bound.arguments[name] = version.ref
        elif all(hasattr(value, a) for a in ("name", "version", "digest")):
            version = value  # a DatasetVersion is already one version
        else:
            raise InvalidInput(f"step {step.name!r}: parameter {name!r} names a dataset, got {value!r}"[:300])
        read.append(ConsumedDataset(version.name, version.version, version.digest))
    return (tuple(bound.args), dict(bound.kwargs)), read


def key_material(read: list[ConsumedDataset]) -> dict[str, str]:
    """What the pinned versions add to the cache key: each version's content digest."""
    return {item.ref: item.digest for item in read}


def merge(*groups: Iterable[ConsumedDataset]) -> tuple[ConsumedDataset, ...]:
    """The versions of ``groups`` in first-seen order, each once."""
    seen: dict[str, ConsumedDataset] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item.ref, item)
    return tuple(seen.values())


def step_edges(pinned: Iterable[ConsumedDataset], created: Iterable[tuple[str, str, str]],
               touched: Iterable[list[str]]) -> list[list[str]] | None:
    """The edges recorded for one step, in the shape of ``StepUpdate.lineage``: ``dataset_version
    --input_to--> pipeline_run`` for each version it pinned, ``pipeline_run --relation--> …`` for
    what the platform's APIs created while it ran, and any the step added with ``context.touch``."""
    edges = [["dataset_version", item.ref, "input_to"] for item in pinned] + [list(e) for e in created]
    edges += [list(e) for e in touched if list(e) not in edges]
    return edges or None


def read_details(read: Iterable[ConsumedDataset]) -> dict[str, Any]:
    """What a step run's ``details`` say it read (upstream included)."""
    refs = [item.ref for item in read]
    return {"datasets": refs} if refs else {}
