"""``LineageBackend``: upstream, downstream and impact queries over the typed edge table.

A caller holding ``read`` only through project bindings needs it in the project of the node it
asks about (PermissionDenied naming that project otherwise); the walk then leaves out every node
of a project it may not read, with the edges touching it, and does not go through it; the graph's
``hidden`` names those projects. Shared feature definitions, and nodes no project owns (a source
file), are shown when the walk reaches them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection

from slipway.core.auth import Principal, endpoint
from slipway.core.errors import InvalidInput, NotFound
from slipway.lineage.graph import Hide, Node, walk
from slipway.lineage.nodes import node_exists
from slipway.lineage.records import LineageGraph
from slipway.store.context import ServiceContext
from slipway.store.owners import OWNERS, SHARED_KINDS, owners_of

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


def hide_unreadable(readable: frozenset[str]) -> Hide:
    """The nodes a caller reading only ``readable`` projects may not see, with their projects."""

    def hide(conn: Connection, nodes: list[Node]) -> dict[Node, str]:
        by_kind: dict[str, list[str]] = defaultdict(list)
        for kind, ident in nodes:
            if kind in OWNERS and kind not in SHARED_KINDS:
                by_kind[kind].append(ident)
        hidden: dict[Node, str] = {}
        for kind, ids in by_kind.items():
            owners = owners_of(conn, kind, ids)
            # An owned kind whose row is gone (or never was) is hidden too: nothing vouches for it.
            hidden.update({(kind, i): owners.get(i, "") for i in ids if owners.get(i) not in readable})
        return hidden

    return hide


def hide_for(principal: Principal) -> Hide | None:
    """What a walk for ``principal`` leaves out: nothing (None) for a caller reading everywhere,
    else the nodes of the projects it may not read. Model cards and evidence packs walk with it too."""
    readable = principal.readable_projects()
    return None if readable is None else hide_unreadable(readable)


class LineageBackend:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _projects_of(self, method: str, arguments: dict[str, Any]) -> None:
        """Every query checks and filters for a project-bound caller itself (see :meth:`_walk`)."""
        return None

    @endpoint("read")
    def upstream(self, kind: str, id: str, depth: int = 25) -> LineageGraph:
        """Everything ``(kind, id)`` came from: data, runs, models, transitively."""
        return self._walk(kind, id, "up", depth)

    @endpoint("read")
    def downstream(self, kind: str, id: str, depth: int = 25) -> LineageGraph:
        """Everything that came from ``(kind, id)``: runs, model versions, deployments, transitively."""
        return self._walk(kind, id, "down", depth)

    def _walk(self, kind: str, ident: str, direction: str, depth: int) -> LineageGraph:
        _check_node(kind, ident)
        depth = _check_depth(depth)
        principal = self.ctx.principal
        readable = principal.projects_where("read")
        with self.ctx.db.read() as conn:
            hide = None
            if readable is not None:
                owner = owners_of(conn, kind, [ident]).get(ident) if kind not in SHARED_KINDS else None
                if owner is not None:
                    principal.require_in(("read",), frozenset({owner}), f"read the lineage of {kind} {ident!r}")
                hide = hide_unreadable(readable)
            return _known(conn, kind, ident, walk(conn, kind, ident, direction, depth, hide=hide))

    @endpoint("read")
    def impact(self, kind: str, id: str) -> dict[str, list[str]]:
        """What a change to ``(kind, id)`` affects, grouped by kind (e.g. which deployments serve a
        model trained on a bad dataset version)."""
        graph = self.downstream(kind, id)
        grouped: dict[str, list[str]] = {}
        for node in graph.nodes:
            grouped.setdefault(node.kind, []).append(node.id)
        return grouped
