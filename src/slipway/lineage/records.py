"""Lineage records: a node, an edge and a graph around one node."""

from __future__ import annotations

from slipway.core.records import record


@record
class LineageNode:
    kind: str
    id: str
    depth: int


@record
class LineageEdge:
    src_kind: str
    src_id: str
    relation: str
    dst_kind: str
    dst_id: str
    created_ms: int


@record
class LineageGraph:
    """Everything reachable from ``root`` in one direction (``up``: what it came from; ``down``:
    what came from it), breadth first, with the edges walked.

    ``hidden``: for a caller bound to projects, the projects of the nodes left out because it may
    not read them (the walk does not go through them; edges touching them are left out too)."""

    root: LineageNode
    direction: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool
    hidden: list[str] | None = None

    def ids(self, kind: str) -> list[str]:
        return [n.id for n in self.nodes if n.kind == kind]
