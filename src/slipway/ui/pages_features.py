"""The feature store: entities, feature views with their freshness (watermark, newest event, last
materialisation, stale or not against the TTL), on-demand views and feature services, and one
definition with its versions. Read-only: definitions change through ``slipway features apply``."""

from __future__ import annotations

from fastapi.responses import Response

from slipway.core.errors import NotFound
from slipway.ui.view import View, page

KINDS = ("entity", "feature_view", "on_demand_view", "feature_service")


@page
def features_page(view: View) -> Response:
    if not view.has("features"):
        raise NotFound("the feature store is not installed on this server")
    features = view.backend("features")
    definitions = features.list_definitions()
    by_kind = {kind: [d for d in definitions if d.kind == kind] for kind in KINDS}
    descriptions = {d.name: d.spec.get("description", "") for d in by_kind["feature_view"]}
    return view.render("features.html", by_kind=by_kind, freshness=features.status(), descriptions=descriptions)


@page
def definition_page(view: View, kind: str, name: str) -> Response:
    if kind not in KINDS:
        raise NotFound(f"no kind of feature definition is called {kind!r}; the kinds are {', '.join(KINDS)}")
    features = view.backend("features")
    definition = features.get(kind, name)
    versions = [d for d in features.list_definitions(kind, history=True) if d.name == name]
    freshness = next((s for s in features.status() if s.name == name), None) if kind == "feature_view" else None
    return view.render("feature_definition.html", d=definition, versions=versions, freshness=freshness)


ROUTES = [
    ("/features", "GET", features_page),
    ("/features/{kind}/{name}", "GET", definition_page),
]
