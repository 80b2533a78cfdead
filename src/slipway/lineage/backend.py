"""``LineageBackend``: upstream, downstream and impact queries over the typed edge table."""

from __future__ import annotations

from sqlalchemy import Connection

from slipway.core.auth import endpoint
from slipway.core.errors import InvalidInput, NotFound
from slipway.lineage.graph import walk
from slipway.lineage.nodes import node_exists
from slipway.lineage.records import LineageGraph
from slipway.store.context import ServiceContext

KIND_MAX, ID_MAX = 50, 300


def _check_node(kind: str, ident: str) -> None:
    if not isinstance(kind, str) or not kind or len(kind) > KIND_MAX:
        raise InvalidInput(f"lineage node kind must be a short non-empty string, got {kind!r}")
    if not isinstance(ident, str) or not ident or len(ident) > ID_MAX:
        raise InvalidInput(f"lineage node id must be a non-empty string of at most {ID_MAX} characters, got {ident!r}")


def _check_depth(depth: int) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 100:
        raise InvalidInput(f"depth must be a whole number from 1 to 100, got {depth!r}")
    return depth


def _known(conn: Connection, kind: str, ident: str, graph: LineageGraph) -> LineageGraph:
    """``graph``, unless it is empty because the node itself does not exist (then NotFound)."""
    if not graph.edges and not node_exists(conn, kind, ident):
        raise NotFound(f"{kind.replace('_', ' ')} {ident!r} does not exist")
    return graph


class LineageBackend:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @endpoint("read")
    def upstream(self, kind: str, id: str, depth: int = 25) -> LineageGraph:
        """Everything ``(kind, id)`` came from: data, runs, models, transitively."""
        _check_node(kind, id)
        with self.ctx.db.read() as conn:
            return _known(conn, kind, id, walk(conn, kind, id, "up", _check_depth(depth)))

    @endpoint("read")
    def downstream(self, kind: str, id: str, depth: int = 25) -> LineageGraph:
        """Everything that came from ``(kind, id)``: runs, model versions, deployments, transitively."""
        _check_node(kind, id)
        with self.ctx.db.read() as conn:
            return _known(conn, kind, id, walk(conn, kind, id, "down", _check_depth(depth)))

    @endpoint("read")
    def impact(self, kind: str, id: str) -> dict[str, list[str]]:
        """What a change to ``(kind, id)`` affects, grouped by kind (e.g. which deployments serve a
        model trained on a bad dataset version)."""
        graph = self.downstream(kind, id)
        grouped: dict[str, list[str]] = {}
        for node in graph.nodes:
            grouped.setdefault(node.kind, []).append(node.id)
        return grouped
