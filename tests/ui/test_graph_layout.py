"""The server-side graph layout: every edge points right, a node sits one column past its
furthest parent, and a cycle or an edge to an unknown node does not stop the layout."""

from __future__ import annotations

from slipway.ui.graph_layout import GraphEdge, GraphNode, layout


def _nodes(*keys: str) -> list[GraphNode]:
    return [GraphNode(key, key, f"/{key}") for key in keys]


def test_columns_follow_the_longest_path_and_edges_point_right() -> None:
    # data -> run -> model -> deployment, and data -> model directly (a shortcut edge)
    placed = layout(_nodes("data", "run", "model", "deployment"),
                    [GraphEdge("data", "run"), GraphEdge("run", "model"), GraphEdge("data", "model"),
                     GraphEdge("model", "deployment"), GraphEdge("model", "ghost")])
    x = {n.key: n.x for n in placed.nodes}
    assert x["data"] < x["run"] < x["model"] < x["deployment"]
    assert len(placed.edges) == 4  # the edge to an unknown node is dropped
    for edge in placed.edges:
        start, end = edge.path[1:].split(" ")[0], edge.path.split(" ")[-1]
        assert float(start.split(",")[0]) < float(end.split(",")[0])
    assert placed.width > x["deployment"] and placed.height > 0


def test_siblings_share_a_column_and_do_not_overlap() -> None:
    placed = layout(_nodes("a", "b", "c", "d"), [GraphEdge("a", "b"), GraphEdge("a", "c"), GraphEdge("a", "d")])
    children = [n for n in placed.nodes if n.key != "a"]
    assert len({n.x for n in children}) == 1 and len({n.y for n in children}) == 3


def test_a_cycle_still_lays_out_every_node() -> None:
    placed = layout(_nodes("a", "b", "c"), [GraphEdge("a", "b"), GraphEdge("b", "c"), GraphEdge("c", "b")])
    assert {n.key for n in placed.nodes} == {"a", "b", "c"} and len(placed.edges) == 3
