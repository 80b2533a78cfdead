"""The DAG a pipeline function builds: nodes (step calls) and references between them.

While a pipeline function runs under a :class:`GraphBuilder`, calling a step adds a node and
returns an :class:`OutputRef` (a future); passing that reference to another step is what makes
an edge. Nodes are kept in call order, which is a topological order, since a reference can only
point at a node created before it.
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from slipway.core.errors import InvalidInput

if TYPE_CHECKING:
    from slipway.pipelines.dsl import Step


@dataclasses.dataclass(frozen=True)
class OutputRef:
    """One output of a step call that has not run yet."""

    node: str
    output: str = "output"

    def __bool__(self) -> bool:
        raise InvalidInput(
            f"the output of step {self.node!r} is not known while the pipeline is being built; "
            "use when=<gate output> on the step that depends on it instead of 'if'"
        )


@dataclasses.dataclass(frozen=True)
class GatherRef:
    """The outputs of a fan-out (:meth:`Step.map`), gathered into a list in item order."""

    refs: tuple[OutputRef, ...]

    def __iter__(self) -> Iterator[OutputRef]:
        return iter(self.refs)

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> OutputRef:
        return self.refs[index]


class StepCall(OutputRef):
    """What calling a step returns: its output, or (for several outputs) unpackable into them."""

    def __init__(self, node: str, outputs: tuple[str, ...]) -> None:
        object.__setattr__(self, "node", node)
        object.__setattr__(self, "output", outputs[0] if len(outputs) == 1 else "output")
        object.__setattr__(self, "_outputs", outputs)

    def __iter__(self) -> Iterator[OutputRef]:
        outputs: tuple[str, ...] = object.__getattribute__(self, "_outputs")
        if len(outputs) == 1:
            raise InvalidInput(f"step {self.node!r} has one output; declare outputs=(...) to unpack several")
        return iter(OutputRef(self.node, name) for name in outputs)

    def __getitem__(self, name: str) -> OutputRef:
        outputs: tuple[str, ...] = object.__getattribute__(self, "_outputs")
        if name not in outputs:
            raise InvalidInput(f"step {self.node!r} has no output {name!r}; it has {list(outputs)}")
        return OutputRef(self.node, name)

    def __repr__(self) -> str:
        return f"StepCall({self.node!r})"


@dataclasses.dataclass
class Node:
    key: str
    step: Step
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    when: Any = None  # an OutputRef (gate output) or a plain value; falsy means skip

    def references(self) -> list[OutputRef]:
        found: list[OutputRef] = []
        for value in (*self.args, *self.kwargs.values(), self.when):
            _collect(value, found)
        return found

    @property
    def upstream(self) -> list[str]:
        seen: dict[str, None] = {}
        for ref in self.references():
            seen[ref.node] = None
        return list(seen)


def _collect(value: Any, found: list[OutputRef]) -> None:
    if isinstance(value, OutputRef):
        found.append(OutputRef(value.node, value.output))
    elif isinstance(value, GatherRef):
        found.extend(value.refs)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)


@dataclasses.dataclass
class Graph:
    pipeline: str
    params: dict[str, Any]
    nodes: dict[str, Node]


class GraphBuilder:
    """Collects the nodes while a pipeline function runs."""

    def __init__(self, pipeline: str, params: dict[str, Any]) -> None:
        self.graph = Graph(pipeline, params, {})
        self._counts: dict[str, int] = {}

    def _key(self, name: str) -> str:
        count = self._counts.get(name, 0)
        self._counts[name] = count + 1
        return name if count == 0 else f"{name}_{count + 1}"

    def add(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any], when: Any, key: str | None = None) -> StepCall:
        key = key or self._key(step.name)
        node = Node(key, step, args, kwargs, when)
        for ref in node.references():
            upstream = self.graph.nodes.get(ref.node)
            if upstream is None:
                raise InvalidInput(f"step {key!r} refers to {ref.node!r}, which is not part of this pipeline")
            if ref.output not in upstream.step.outputs and ref.output != "output":
                raise InvalidInput(f"step {ref.node!r} has no output {ref.output!r}")
        self.graph.nodes[key] = node
        return StepCall(key, step.outputs)

    def add_map(self, step: Step, items: list[Any], kwargs: dict[str, Any], when: Any) -> GatherRef:
        base = self._key(step.name)
        calls = [self.add(step, (item,), kwargs, when, key=f"{base}[{i}]") for i, item in enumerate(items)]
        return GatherRef(tuple(OutputRef(c.node, c.output) for c in calls))


_BUILDER: contextvars.ContextVar[GraphBuilder | None] = contextvars.ContextVar("slipway_pipeline_builder", default=None)


def current_builder() -> GraphBuilder | None:
    return _BUILDER.get()


def building(builder: GraphBuilder) -> contextvars.Token[GraphBuilder | None]:
    return _BUILDER.set(builder)


def done_building(token: contextvars.Token[GraphBuilder | None]) -> None:
    _BUILDER.reset(token)
