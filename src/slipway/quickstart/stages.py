"""The quickstart's building blocks: run the pipeline and say what happened, find the version it
registered, approve it under the four-eyes rule, and promote it to champion."""

from __future__ import annotations

from typing import Any

from slipway.core.errors import Conflict, NotFound, PermissionDenied
from slipway.pipelines.loader import load_pipeline
from slipway.pipelines.steps.evaluate import run_of
from slipway.quickstart.progress import Reporter
from slipway.quickstart.team import MODEL, Team


def run_pipeline(ws: Any, pipeline_ref: str, dataset: str, reporter: Reporter) -> Any:
    """Run the example pipeline on ``dataset`` (e.g. ``ai4i@1``) and report its steps.

    Raises:
        Conflict: the run failed (the message names the step and its error).
    """
    with reporter.console.status(f"running {pipeline_ref.rpartition('/')[2]} on {dataset} ..."):
        run = ws.pipelines.run(load_pipeline(pipeline_ref), {"dataset": dataset})
    report_run(run, reporter)
    return run


def report_run(run: Any, reporter: Reporter) -> None:
    """One line for the run, one for the gate's verdict, one per skipped step."""
    executed, cached = run.executed, run.cached
    reporter.info(f"pipeline run {run.id} {run.status}: {len(executed)} step(s) ran, {len(cached)} from the cache"
                  + (f" ({', '.join(executed)} ran)" if executed and cached else ""))
    if run.status != "SUCCEEDED":
        failed = next((s for s in run.steps if s.status == "FAILED"), None)
        where = f"step {failed.key}: {failed.error}" if failed else run.error
        raise Conflict(f"pipeline run {run.id} failed at {where} (see: slipway pipelines show {run.id})")
    gate = run.step("evaluate_and_bless").details.get("gate")
    if gate:
        metrics = gate.get("candidate_metrics", {})
        shown = ", ".join(f"{k} {metrics[k]:.3f}" for k in ("recall", "f1", "roc_auc") if k in metrics)
        reporter.info(f"held-out week: {shown}")
        (reporter.ok if gate.get("blessed") else reporter.refused)(f"gate: {gate.get('reason')}")
    for step in run.steps:
        if step.status == "SKIPPED":
            reporter.info(f"{step.key} skipped: {step.details.get('skipped', 'condition not met')}")


def registered_version(ws: Any, run: Any) -> Any:
    """The version registered from the run's candidate (also when this run found the gate closed
    because the candidate was registered, and perhaps superseded, before).

    Raises:
        NotFound: the candidate was never registered (the gate refused it).
    """
    candidate_run = run_of(ws.pipelines.output(run.id, "track"))
    for version in ws.registry.list_versions(MODEL):
        if version.run_id == candidate_run:
            return version
    raise NotFound(f"pipeline run {run.id}'s candidate (run {candidate_run}) was not registered: the gate "
                   "refused it")


def approve_with_four_eyes(team: Team, ref: str, reporter: Reporter) -> Any:
    """Alice (the requester) tries to approve her own request and is refused; Bob approves.

    Raises:
        Conflict: the request could not be completed (e.g. the policy blocks it; named).
    """
    status = team.alice.governance.status(ref)
    if status.state in ("approved", "deployed"):
        reporter.ok(f"{ref} is already {status.state}")
        return status
    requests = [r for r in team.alice.governance.list_requests(MODEL, "open") if f"{r.model}/{r.version}" == ref]
    request = requests[0] if requests else team.alice.governance.request_approval(ref, "quickstart: passes the gate")
    reporter.info(f"approval request {request.id} for {ref} by {request.requested_by} "
                  f"({request.required} approval(s) needed)")
    try:
        team.alice.governance.approve(request.id, "looks good to me")
        raise Conflict(f"alice approved her own request {request.id}: the four-eyes rule did not hold")
    except PermissionDenied as err:
        reporter.refused(f"alice approving her own request: refused ({err.message})")
    decided = team.bob.governance.approve(request.id, "held-out week metrics and model card reviewed")
    if decided.status != "approved":
        raise Conflict(f"approval request {request.id} is {decided.status}: {decided.blocked_by or 'see slipway governance status'}")
    reporter.ok(f"bob approved {ref} ({decided.approvals}/{decided.required})")
    return team.alice.governance.status(ref)


def ensure_champion(team: Team, ref: str, reporter: Reporter) -> None:
    """Point ``champion`` at ``ref`` unless the model already has a champion."""
    try:
        current = team.alice.registry.resolve(f"{MODEL}@champion")
    except NotFound:
        current = None
    if current is not None:
        reporter.ok(f"{MODEL}@champion is {current.ref}")
        return
    team.alice.governance.promote(ref, "champion")
    reporter.ok(f"{MODEL}@champion -> {ref} (protected alias: policy re-checked)")
