"""``ws.lineage``: where things came from and what they fed.

References: ``dataset:NAME@VERSION``, ``run:ID``, ``model:NAME/VERSION`` (or just ``NAME/VERSION``),
``deployment:NAME``, or any ``KIND:ID`` as the edge table spells it::

    ws.lineage.upstream("model:credit/3").ids("dataset_version")   # ['german@2']
    ws.lineage.downstream("dataset:german@2")                      # runs, models, deployments
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.core.errors import InvalidInput
from slipway.core.limits import whole_number
from slipway.lineage.records import LineageGraph
from slipway.store.context import Host

if TYPE_CHECKING:
    from slipway.lineage.backend import LineageBackend

ALIASES = {"dataset": "dataset_version", "model": "model_version", "run": "run", "deployment": "deployment",
           "pipeline": "pipeline_run", "feature_view": "feature_view"}


def parse_node(ref: str) -> tuple[str, str]:
    """(kind, id) for a lineage reference. Raises InvalidInput naming the reference if malformed."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(f"a lineage reference must be a non-empty string, got {ref!r}")
    kind, sep, ident = ref.partition(":")
    if sep and ident and not ref.startswith("models:/"):
        return ALIASES.get(kind, kind), ident
    name = ref.removeprefix("models:/")
    if "/" in name and whole_number(name.rsplit("/", 1)[1]) is not None:
        return "model_version", name
    if "@" in name:
        return "dataset_version", name
    raise InvalidInput(f"lineage reference {ref!r} is malformed: use dataset:NAME@V, run:ID, model:NAME/V or deployment:NAME")


class LineageService:
    def __init__(self, host: Host) -> None:
        self._backend: LineageBackend = host.backend("lineage")

    def upstream(self, ref: str, depth: int = 25) -> LineageGraph:
        kind, ident = parse_node(ref)
        return self._backend.upstream(kind, ident, depth)

    def downstream(self, ref: str, depth: int = 25) -> LineageGraph:
        kind, ident = parse_node(ref)
        return self._backend.downstream(kind, ident, depth)

    def impact(self, ref: str) -> dict[str, list[str]]:
        kind, ident = parse_node(ref)
        return self._backend.impact(kind, ident)
