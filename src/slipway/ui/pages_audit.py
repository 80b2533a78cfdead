"""Lineage and audit: the lineage graph around any node (upstream and downstream), the audit
ledger filtered by actor, action, subject and time, what held each alias at a time T, and a
button that verifies the ledger and shows the verdict."""

from __future__ import annotations

import datetime
from urllib.parse import quote

from fastapi.responses import Response

from slipway.core.errors import InvalidInput
from slipway.lineage.records import LineageGraph
from slipway.ui.graph_layout import GraphEdge, GraphNode, layout, short
from slipway.ui.view import View, action, page

KIND_LABELS = {"dataset_version": "dataset version", "run": "run", "model_version": "model version",
               "deployment": "deployment", "pipeline_run": "pipeline run"}


def node_page(kind: str, ident: str) -> str:
    """The page of a lineage node's own object (or its lineage, for kinds without a page)."""
    if kind == "run":
        return f"/runs/{quote(ident, safe='')}"
    if kind == "model_version" and "/" in ident:
        name, _, number = ident.rpartition("/")
        return f"/models/{quote(name, safe='')}/{quote(number, safe='')}"
    if kind == "dataset_version" and "@" in ident:
        name, _, number = ident.rpartition("@")
        return f"/datasets/{quote(name, safe='')}/{quote(number, safe='')}"
    if kind == "deployment":
        return f"/deployments/{quote(ident, safe='')}"
    if kind == "pipeline_run":
        return f"/pipelines/runs/{quote(ident, safe='')}"
    return lineage_url(kind, ident)


def lineage_url(kind: str, ident: str) -> str:
    return f"/lineage/{quote(kind, safe='')}/{quote(ident, safe='/@')}"


def _graph(root_kind: str, root_id: str, graphs: list[LineageGraph]) -> tuple[list[GraphNode], list[GraphEdge]]:
    nodes: dict[str, GraphNode] = {}
    edges: dict[tuple[str, str, str], GraphEdge] = {}
    for graph in graphs:
        for node in [graph.root, *graph.nodes]:
            key = f"{node.kind}:{node.id}"
            focus = " focus" if (node.kind, node.id) == (root_kind, root_id) else ""
            nodes[key] = GraphNode(key, short(node.id), lineage_url(node.kind, node.id), node.kind + focus,
                                   KIND_LABELS.get(node.kind, node.kind), f"{node.kind} {node.id}")
        for edge in graph.edges:
            src, dst = f"{edge.src_kind}:{edge.src_id}", f"{edge.dst_kind}:{edge.dst_id}"
            edges[(src, dst, edge.relation)] = GraphEdge(src, dst, edge.relation.replace("_", " "))
    return list(nodes.values()), list(edges.values())


@page
def lineage_page(view: View, kind: str, ident: str) -> Response:
    lineage = view.backend("lineage")
    depth = 25
    up, down = lineage.upstream(kind, ident, depth), lineage.downstream(kind, ident, depth)
    nodes, edges = _graph(kind, ident, [up, down])
    return view.render("lineage.html", kind=kind, ident=ident, graph=layout(nodes, edges), up=up, down=down,
                       own_page=node_page(kind, ident), labels=KIND_LABELS, node_page=node_page)


def _moment(text: str, field: str) -> int | None:
    """``2026-12-07T08:00`` (UTC, as a datetime-local input sends it) as milliseconds."""
    if not text:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field} must be a date and time such as 2026-12-07T08:00, not {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return int(parsed.timestamp() * 1000)


def _limit(text: str) -> int:
    if not text:
        return 200
    if not text.isdigit():
        raise InvalidInput(f"limit is a whole number of events, not {text!r}")
    return min(max(int(text), 1), 2000)


@page
def audit_page(view: View) -> Response:
    query = view.request.query_params
    kind, _, subject = query.get("subject", "").partition(":")
    events = view.backend("audit").log(
        subject_kind=kind or None, subject_id=subject or None, action=query.get("action") or None,
        since_ms=_moment(query.get("since", ""), "since"), until_ms=_moment(query.get("until", ""), "until"),
        limit=_limit(query.get("limit", "")), actor=query.get("actor") or None)
    return view.render("audit.html", events=events, query=query)


@page
def production_page(view: View) -> Response:
    """Which version held each alias at time T (the alias history replayed)."""
    at_text = view.request.query_params.get("at", "")
    at_ms = _moment(at_text, "at")
    holders = view.backend("governance").aliases_at(at_ms) if at_ms is not None else []
    return view.render("production.html", at=at_text, at_ms=at_ms, holders=holders)


@action
def verify(view: View, _form: dict[str, str]) -> Response:
    verdict = view.backend("audit").verify()
    return view.render("_verdict.html" if view.request.headers.get("hx-request") else "verdict.html",
                       verdict=verdict)


ROUTES = [
    ("/lineage/{kind}/{ident:path}", "GET", lineage_page),
    ("/audit", "GET", audit_page),
    ("/audit/production", "GET", production_page),
    ("/audit/verify", "POST", verify),
]
