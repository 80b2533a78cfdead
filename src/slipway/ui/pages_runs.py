"""Experiments and runs: the runs table (search language, sorting, columns, server-side paging),
a run's page, its artifacts, metric charts (downsampled in SQL) and the comparison of 2-10 runs."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response

from slipway.core.errors import InvalidInput, NotFound
from slipway.tracking.records import Run, RunPage
from slipway.ui.view import View, page

PAGE_SIZES = (25, 50, 100, 200)
CHART_POINTS = 2000  # per series, whatever the series' length
COMPARE_POINTS = 1000  # per run on an overlaid chart
ORDERABLE = ("attributes.start_time", "attributes.run_name", "attributes.status")
PREVIEW_BYTES = 64 * 1024


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value or default)))
    except ValueError:
        return default


def _columns(view: View, runs: list[Run]) -> tuple[list[str], list[str]]:
    """The chosen columns (``?cols=metrics.auc,params.model``) and every column the page could show."""
    metrics = sorted({k for r in runs for k in r.metrics})
    params = sorted({k for r in runs for k in r.params})
    available = [f"metrics.{k}" for k in metrics] + [f"params.{k}" for k in params]
    asked = view.request.query_params.get("cols")
    chosen = [c for c in (asked or "").split(",") if c.partition(".")[0] in ("metrics", "params", "tags")]
    if asked is None:
        chosen = [f"metrics.{k}" for k in metrics[:6]] + [f"params.{k}" for k in params[:4]]
    return chosen, available


def column_url(view: View, columns: list[str], column: str) -> str:
    """The runs page with ``column`` shown (or hidden, when it is)."""
    chosen = [c for c in columns if c != column] if column in columns else [*columns, column]
    return view.url(cols=",".join(chosen) or "-")


def cell(run: Run, column: str) -> Any:
    kind, _, key = column.partition(".")
    return (run.metrics if kind == "metrics" else run.params if kind == "params" else run.tags).get(key)


def sort_key(column: str) -> str:
    """The ``order_by`` item of a column; keys are quoted (they may hold spaces or dots)."""
    kind, _, key = column.partition(".")
    return f"{kind}.`{key}`" if kind in ("metrics", "params", "tags") else column


def sort_mark(column: str, order: str) -> str:
    key = sort_key(column)
    return {f"{key} DESC": "▼", f"{key} ASC": "▲", key: "▲"}.get(order, "")


def sort_url(view: View, column: str, order: str) -> str:
    key = sort_key(column)
    return view.url(order=f"{key} {'ASC' if order == f'{key} DESC' else 'DESC'}")


@page
def runs_page(view: View) -> Response:
    query = view.request.query_params
    experiment = query.get("experiment", "")
    filter_text = query.get("filter", "")
    order = query.get("order", "attributes.start_time DESC")
    size = _int(query.get("size"), 50, 1, 500)
    tracking = view.backend("tracking")
    problem = ""
    try:
        result: RunPage = tracking.search_runs(filter=filter_text, experiments=[experiment] if experiment else None,
                                               order_by=[order], max_results=size,
                                               page_token=query.get("page") or None)
    except InvalidInput as err:
        result, problem = RunPage([], None), str(err)
    names = {e.id: e.name for e in tracking.list_experiments()}
    columns, available = _columns(view, result.runs)
    # htmx swaps only the table; a history restore (back button, cache miss) needs the whole page.
    headers = view.request.headers
    partial = headers.get("hx-request") and not headers.get("hx-history-restore-request")
    template = "_runs_table.html" if partial else "runs.html"
    return view.render(template, runs=result.runs, next_token=result.next_token, experiments=names,
                       experiment=experiment, filter=filter_text, order=order, size=size, sizes=PAGE_SIZES,
                       problem=problem, columns=columns, available=available, cell=cell, sort_url=sort_url,
                       sort_mark=sort_mark, column_url=column_url,
                       first_page=not query.get("page"), status_code=400 if problem else 200)


@page
def home_page(view: View) -> Response:
    tracking = view.backend("tracking")
    experiments = tracking.list_experiments()
    recent = tracking.search_runs(order_by=["attributes.start_time DESC"], max_results=10).runs
    models = view.backend("registry").list_models(max_results=20)
    return view.render("home.html", experiments=experiments, recent=recent, models=models)


@page
def run_page(view: View, run_id: str) -> Response:
    tracking = view.backend("tracking")
    run = tracking.get_run(run_id)
    children = tracking.search_runs(filter=f"attributes.parent_id = '{run.id}'", max_results=100).runs
    experiment = tracking.get_experiment(run.experiment_id)
    return view.render("run.html", run=run, experiment=experiment, children=children,
                       artifacts=tracking.list_artifacts(run_id), inputs=tracking.list_inputs(run_id))


@page
def artifact(view: View, run_id: str, path: str) -> Response:
    """An artifact's bytes as a download (never rendered by the browser), or a text preview."""
    found = [a for a in view.backend("tracking").list_artifacts(run_id) if a.path == path]
    if not found or found[0].kind != "file":
        raise NotFound(f"run {run_id} has no file artifact {path!r}")
    blobs = view.request.app.state.transport.blobs
    if view.request.query_params.get("preview"):
        with blobs.open(found[0].digest) as handle:
            head = handle.read(PREVIEW_BYTES)
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return view.render("artifact.html", run_id=run_id, artifact=found[0], text=text,
                           truncated=found[0].size > PREVIEW_BYTES)
    name = path.rsplit("/", 1)[-1].replace('"', "")
    return Response(blobs.read_bytes(found[0].digest), media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})


def _step(text: str | None) -> int | None:
    try:
        return int(float(text)) if text else None
    except (ValueError, OverflowError):
        raise InvalidInput(f"a step is a whole number, not {text!r}") from None


def _series(view: View, run_id: str, key: str, points: int) -> dict[str, Any]:
    query = view.request.query_params
    return view.backend("tracking").get_metric_series(
        run_id, key, points, _step(query.get("min_step")), _step(query.get("max_step")))


@page
def chart_page(view: View, run_id: str) -> Response:
    key = view.request.query_params.get("key", "")
    run = view.backend("tracking").get_run(run_id)
    if key not in run.metrics:
        raise NotFound(f"run {run_id} has no metric {key!r}")
    series = _series(view, run_id, key, CHART_POINTS)
    return view.render("chart.html", run=run, key=key, charts=[{"key": key, "runs": [
        {"label": run.name, "run_id": run.id, **series}]}])


@page
def series_json(view: View, run_id: str) -> Response:
    """A series for a chart zoomed in: the same downsampling over the visible step range only."""
    key = view.request.query_params.get("key", "")
    return JSONResponse(_series(view, run_id, key, CHART_POINTS))


@page
def compare_page(view: View) -> Response:
    query = view.request.query_params
    ids = list(dict.fromkeys(i for value in query.getlist("run") for i in value.split(",") if i.strip()))
    if not 2 <= len(ids) <= 10:
        raise InvalidInput(f"choose from 2 to 10 runs to compare, not {len(ids)}")
    tracking = view.backend("tracking")
    runs = [tracking.get_run(i) for i in ids]
    comparison = tracking.compare_runs(ids)
    keys = sorted(comparison.metrics)
    chosen = [k for k in query.getlist("key") if k in comparison.metrics] or keys[:4]
    charts = [{"key": key, "runs": [{"label": run.name, "run_id": run.id,
                                     **tracking.get_metric_series(run.id, key, COMPARE_POINTS)}
                                    for run in runs if key in run.metrics]} for key in chosen]
    return view.render("compare.html", runs=runs, comparison=comparison, charts=charts, keys=keys, chosen=chosen)


ROUTES = [
    ("/", "GET", home_page),
    ("/runs", "GET", runs_page),
    ("/runs/{run_id}", "GET", run_page),
    ("/runs/{run_id}/chart", "GET", chart_page),
    ("/runs/{run_id}/series", "GET", series_json),
    ("/runs/{run_id}/artifacts/{path:path}", "GET", artifact),
    ("/compare", "GET", compare_page),
]
