"""Datasets: versions, schema, the profile's per-column distributions, usage, validation reports
(with a button that validates the version against the stored schema, for users who may), and the
diff of two versions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi.responses import RedirectResponse, Response

from slipway.core.errors import NotFound
from slipway.data.service import DataService
from slipway.data.sketches import ColumnSketch
from slipway.ui.view import View, action, page

BINS = 20


def distribution(sketch: ColumnSketch) -> list[tuple[str, float]]:
    """Bars of a column's distribution: ``(label, share)``; a histogram of numbers (from the KLL
    sketch, so it costs no pass over the data) or the most frequent categories."""
    summary = sketch.summary()
    if sketch.kind in ("numeric", "datetime") and summary.get("min") is not None and not sketch.kll.is_empty():
        low, high = float(summary["min"]), float(summary["max"])
        if high <= low:
            return [(f"{low:.4g}", 1.0)]
        edges = [low + (high - low) * i / BINS for i in range(1, BINS)]
        shares = sketch.kll.get_pmf(edges)
        return [(f"≥ {low + (high - low) * i / BINS:.4g}", float(share)) for i, share in enumerate(shares)]
    if sketch.kind == "categorical" and summary.get("count"):
        return [(str(value), count / summary["count"]) for value, count in summary.get("top", [])]
    return []


@page
def datasets_page(view: View) -> Response:
    return view.render("datasets.html", datasets=view.backend("data").list_datasets())


@page
def dataset_page(view: View, name: str) -> Response:
    data = view.backend("data")
    versions = data.list_versions(name)
    try:
        schema = data.get_schema(name)
    except NotFound:
        schema = None
    return view.render("dataset.html", name=name, versions=versions, schema=schema)


@page
def version_page(view: View, name: str, version: int) -> Response:
    service = DataService(view)
    record = service.get_version(f"{name}@{version}")
    profiles: dict[str, Any] = {}
    for path, profile in service.profile(record).items():
        profiles[path] = {"rows": profile.rows, "columns": [
            (column, sketch.summary(), distribution(sketch)) for column, sketch in profile.columns.items()]}
    usage = view.backend("data").usage(name, version)
    validations = view.backend("governance").data_validations(f"{name}@{version}") if view.has("governance") else []
    try:
        has_schema = view.backend("data").get_schema(name) is not None
    except NotFound:
        has_schema = False
    may_validate = has_schema and view.has("governance") and (view.can("data.write", dataset=name) or view.can("governance.validate", dataset=name))
    return view.render("dataset_version.html", v=record, profiles=profiles, usage=usage, validations=validations,
                       may_validate=may_validate)


@action
def validate(view: View, _form: dict[str, str], name: str, version: int) -> Response:
    """Validate the version against its dataset's stored schema and record the verdict (the API's
    ``governance.validate_dataset``: ``data.write`` or ``governance.validate``)."""
    view.backend("governance").validate_dataset(f"{name}@{int(version)}")
    return RedirectResponse(f"/datasets/{quote(name, safe='')}/{int(version)}#validation", status_code=303)


@page
def diff_page(view: View, name: str) -> Response:
    query = view.request.query_params
    old, new = query.get("old", ""), query.get("new", "")
    diff = DataService(view).diff(f"{name}@{old}", f"{name}@{new}")
    return view.render("dataset_diff.html", name=name, diff=diff)


ROUTES = [
    ("/datasets", "GET", datasets_page),
    ("/datasets/{name}", "GET", dataset_page),
    ("/datasets/{name}/diff", "GET", diff_page),
    ("/datasets/{name}/{version:int}", "GET", version_page),
    ("/datasets/{name}/{version:int}/validate", "POST", validate),
]
