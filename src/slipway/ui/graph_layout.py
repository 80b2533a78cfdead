"""A layered layout of a small directed graph (lineage, a pipeline's steps), drawn as SVG.

Nodes go into columns by their longest path from a source (so every edge points right), then
each column is ordered by the mean row of its neighbours in the previous column (the barycentre
heuristic, two sweeps), which keeps most edges from crossing. It runs on the server, so pages
ship no graph library; the graphs it serves are at most a few hundred nodes.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

NODE_WIDTH, NODE_HEIGHT, COLUMN_GAP, ROW_GAP, MARGIN = 200, 38, 70, 18, 12


@dataclasses.dataclass
class GraphNode:
    key: str
    label: str
    href: str
    css: str = ""
    subtitle: str = ""
    title: str = ""
    x: float = 0
    y: float = 0


@dataclasses.dataclass
class GraphEdge:
    src: str
    dst: str
    label: str = ""
    path: str = ""
    label_x: float = 0
    label_y: float = 0


@dataclasses.dataclass
class Layout:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    width: float
    height: float


def _columns(keys: list[str], edges: list[GraphEdge]) -> dict[str, int]:
    """Longest-path columns (Kahn's order); a node on a cycle keeps the column reached so far."""
    incoming: dict[str, int] = {k: 0 for k in keys}
    outgoing: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        incoming[edge.dst] += 1
        outgoing[edge.src].append(edge.dst)
    column = {k: 0 for k in keys}
    ready = [k for k in keys if incoming[k] == 0]
    while ready:
        key = ready.pop()
        for nxt in outgoing[key]:
            column[nxt] = max(column[nxt], column[key] + 1)
            incoming[nxt] -= 1
            if incoming[nxt] == 0:
                ready.append(nxt)
    return column


def layout(nodes: list[GraphNode], edges: list[GraphEdge]) -> Layout:
    """Place ``nodes`` and route ``edges`` (edges naming unknown nodes are dropped)."""
    known = {n.key: n for n in nodes}
    edges = [e for e in edges if e.src in known and e.dst in known and e.src != e.dst]
    column = _columns(list(known), edges)
    layers: dict[int, list[str]] = defaultdict(list)
    for key in known:
        layers[column[key]].append(key)
    parents: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        parents[edge.dst].append(edge.src)
    row: dict[str, float] = {}
    for _ in range(2):
        for index in sorted(layers):
            layer = layers[index]
            layer.sort(key=lambda k: (sum(row.get(p, 0) for p in parents[k]) / len(parents[k])
                                      if parents[k] else row.get(k, 0), known[k].label))
            for position, key in enumerate(layer):
                row[key] = position
    for index, layer in layers.items():
        for position, key in enumerate(layer):
            known[key].x = MARGIN + index * (NODE_WIDTH + COLUMN_GAP)
            known[key].y = MARGIN + position * (NODE_HEIGHT + ROW_GAP)
    for edge in edges:
        a, b = known[edge.src], known[edge.dst]
        x1, y1 = a.x + NODE_WIDTH, a.y + NODE_HEIGHT / 2
        x2, y2 = b.x, b.y + NODE_HEIGHT / 2
        bend = max(30.0, (x2 - x1) / 2)
        edge.path = f"M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} {x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        edge.label_x, edge.label_y = (x1 + x2) / 2, (y1 + y2) / 2 - 4
    columns = max(layers) + 1 if layers else 0
    rows = max((len(layer) for layer in layers.values()), default=0)
    return Layout(list(known.values()), edges, 2 * MARGIN + columns * (NODE_WIDTH + COLUMN_GAP),
                  2 * MARGIN + rows * (NODE_HEIGHT + ROW_GAP))


def short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
