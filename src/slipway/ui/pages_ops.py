"""Operations: deployments (variants, the live split, shadow comparisons, A/B outcomes on labelled
requests, every canary decision with its numbers), pipeline runs (the step graph with each step's
status, cache hits, retries and logs) and monitoring (monitors with their runs and each check's
report, alerts with acknowledge/resolve for users who may change them)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import RedirectResponse, Response

from slipway.core.errors import NotFound
from slipway.deploy.outcomes import outcome_metrics
from slipway.deploy.service import DeployService
from slipway.ui.graph_layout import GraphEdge, GraphNode, layout
from slipway.ui.view import View, action, page

LOG_BYTES = 256 * 1024


@page
def deployments_page(view: View) -> Response:
    return view.render("deployments.html", deployments=view.backend("deploy").list_deployments())


@page
def deployment_page(view: View, name: str) -> Response:
    deploy = view.backend("deploy")
    status = deploy.status(name)
    # Outcomes join the payload log with late labels; without a label there is nothing to read.
    labels = deploy.feedback(name)
    outcomes = outcome_metrics(DeployService(view).payload_log(name), labels) if labels else {}
    return view.render("deployment.html", status=status, history=deploy.history(name, 200), outcomes=outcomes,
                       labelled=len(labels))


@page
def pipelines_page(view: View) -> Response:
    query = view.request.query_params
    runs = view.backend("pipelines").list_runs(pipeline=query.get("pipeline") or None, limit=100)
    return view.render("pipelines.html", runs=runs, pipeline=query.get("pipeline", ""))


@page
def pipeline_run_page(view: View, run_id: str) -> Response:
    run = view.backend("pipelines").get_run(run_id)
    nodes = [GraphNode(step.key, step.key, f"#step-{quote(step.key, safe='')}", step.status.lower(),
                       step.status.lower() + (" (cache hit)" if step.cached else "")
                       + (f", {step.attempts} attempts" if step.attempts > 1 else ""))
             for step in run.steps]
    edges = [GraphEdge(up, step.key) for step in run.steps for up in step.upstream]
    return view.render("pipeline_run.html", run=run, graph=layout(nodes, edges))


@page
def step_logs(view: View, run_id: str, step_key: str) -> Response:
    run = view.backend("pipelines").get_run(run_id)
    step = next((s for s in run.steps if s.key == step_key), None)
    if step is None or not step.logs_digest:
        raise NotFound(f"step {step_key!r} of pipeline run {run_id} has no logs")
    with view.blobs.open(step.logs_digest) as handle:
        text = handle.read(LOG_BYTES).decode("utf-8", "replace")
    return view.render("step_logs.html", run=run, step=step, text=text)


@page
def monitoring_page(view: View) -> Response:
    monitoring = view.backend("monitoring")
    state = view.request.query_params.get("state") or None
    return view.render("monitoring.html", monitors=monitoring.list_monitors(),
                       alerts=monitoring.list_alerts(state=state), state=state or "", back="/monitoring")


@page
def monitor_page(view: View, name: str) -> Response:
    """One monitor: its spec, its runs (newest first) with each check's report, and its alerts."""
    monitoring = view.backend("monitoring")
    monitor = monitoring.get(name)
    return view.render("monitor.html", monitor=monitor, runs=monitoring.runs(name, 50),
                       alerts=monitoring.list_alerts(monitor=name), back=f"/monitoring/{quote(name, safe='')}")


@action
def alert_state(view: View, form: dict[str, str], alert_id: str) -> Response:
    view.backend("monitoring").set_alert_state(alert_id, form.get("state", ""), form.get("note", ""))
    back = form.get("back", "")
    local = back.startswith("/monitoring") and not back.startswith("//") and "\\" not in back
    return RedirectResponse(back if local else "/monitoring", status_code=303)


ROUTES = [
    ("/deployments", "GET", deployments_page),
    ("/deployments/{name}", "GET", deployment_page),
    ("/pipelines", "GET", pipelines_page),
    ("/pipelines/runs/{run_id}", "GET", pipeline_run_page),
    ("/pipelines/runs/{run_id}/logs/{step_key}", "GET", step_logs),
    ("/monitoring", "GET", monitoring_page),
    ("/monitoring/{name}", "GET", monitor_page),
    ("/alerts/{alert_id}/state", "POST", alert_state),
]
