"""Breadth-first walks over ``lineage_edges``, one batched query per level.

Portable to SQLite and PostgreSQL (no recursive SQL), and bounded: each level is one ``IN``
query over the frontier, so a walk costs ``depth`` round trips however wide the graph is.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select

from slipway.lineage.records import LineageEdge, LineageGraph, LineageNode
from slipway.store.schema.core import lineage_edges

BATCH = 500
Node = tuple[str, str]
# (connection, nodes) -> the nodes among them the caller may not see, each with its project
# ("" when it has none): the walk leaves them out and does not go through them.
Hide = Callable[[Connection, list[Node]], dict[Node, str]]


def walk(conn: Connection, kind: str, ident: str, direction: str, max_depth: int = 25, max_nodes: int = 10_000,
         hide: Hide | None = None) -> LineageGraph:
    """Walk from ``(kind, ident)``: ``up`` follows edges backwards (dst -> src), ``down`` forwards;
    ``hide`` picks the nodes to leave out (see :data:`Hide`)."""
    near_kind, near_id, far_kind, far_id = (
        (lineage_edges.c.dst_kind, lineage_edges.c.dst_id, "src_kind", "src_id") if direction == "up"
        else (lineage_edges.c.src_kind, lineage_edges.c.src_id, "dst_kind", "dst_id")
    )
    root = LineageNode(kind, ident, 0)
    seen: set[tuple[str, str]] = {(kind, ident)}
    hidden: dict[Node, str] = {}
    nodes: list[LineageNode] = []
    edges: list[LineageEdge] = []
    frontier = [(kind, ident)]
    depth, truncated = 0, False
    while frontier and depth < max_depth:
        depth += 1
        wanted = set(frontier)
        next_frontier: list[tuple[str, str]] = []
        ids = sorted({i for _, i in frontier})
        found: list[tuple[LineageEdge, Node]] = []
        for start in range(0, len(ids), BATCH):
            rows = conn.execute(select(lineage_edges).where(near_id.in_(ids[start:start + BATCH])).order_by(lineage_edges.c.id))
            for row in rows:
                if (getattr(row, near_kind.name), getattr(row, near_id.name)) not in wanted:
                    continue
                edge = LineageEdge(row.src_kind, row.src_id, row.relation, row.dst_kind, row.dst_id, row.created_ms)
                found.append((edge, (getattr(row, far_kind), getattr(row, far_id))))
        if hide is not None:
            hidden.update(hide(conn, list(dict.fromkeys(n for _, n in found if n not in seen and n not in hidden))))
        for edge, node in found:
            if node in hidden:
                continue
            edges.append(edge)
            if node not in seen:
                seen.add(node)
                nodes.append(LineageNode(node[0], node[1], depth))
                next_frontier.append(node)
        if len(nodes) >= max_nodes:
            truncated = True
            break
        frontier = next_frontier
    # Stopped by the depth limit with nodes still to expand: there may be more beyond.
    truncated = truncated or bool(frontier and depth >= max_depth)
    shown = sorted({p for p in hidden.values() if p}) if hide is not None else None
    return LineageGraph(root, direction, nodes, edges, truncated, shown)
