"""Running the pipeline by hand and from the weekly dataset trigger, and finding the model version
a run registered."""

from __future__ import annotations

from typing import Any

from drops import DATASET, Project
from report import MODEL, Reporter

from slipway import NotFound, Workspace

TRIGGER = "weekly-retrain"


def run_pipeline(ws: Workspace, project: Project, dataset: str, reporter: Reporter) -> Any:
    """Run the example pipeline on ``dataset`` (e.g. ``ai4i@1``) and report its steps.

    Raises:
        Conflict: the run failed (the message names the step and its error).
    """
    with reporter.console.status(f"running pipeline.py:retrain on {dataset} ..."):
        run = ws.pipelines.run(project.pipeline_ref, {"dataset": dataset})
    reporter.pipeline_run(run)
    return run


def registered_version(ws: Workspace, run: Any) -> Any:
    """The version registered from the run's candidate (also when this run found the gate closed
    because the candidate was registered, and perhaps superseded, before).

    Raises:
        NotFound: the candidate was never registered (the gate refused it).
    """
    candidate_run = ws.pipelines.output(run.id, "track").run_id  # the ModelInfo the track step logged
    for version in ws.registry.list_versions(MODEL):
        if version.run_id == candidate_run:
            return version
    raise NotFound(f"pipeline run {run.id}'s candidate (run {candidate_run}) was not registered: the gate refused it")


def ensure_trigger(ws: Workspace, project: Project, reporter: Reporter) -> Any:
    """The trigger that runs the pipeline once per new version of the dataset (created once,
    before the first weekly drop, so it fires for that drop)."""
    found = next((t for t in ws.pipelines.list_triggers() if t.name == TRIGGER), None)
    if found is None:
        found = ws.pipelines.on_dataset(TRIGGER, DATASET, project.pipeline_ref)
        reporter.ok(f"trigger {TRIGGER}: every new version of {DATASET} after {DATASET}@{found.baseline} "
                    "runs the pipeline")
    else:
        reporter.ok(f"trigger {TRIGGER} exists (fires on versions of {DATASET} after @{found.baseline})")
    return found


def triggered_run(ws: Workspace, trigger: Any, event: str, ran: list[Any]) -> Any:
    """The pipeline run the trigger started for ``event`` (``ai4i@2``): this tick's, or the one an
    earlier tick (an earlier run of the example, or ``slipway scheduler``) ran.

    Raises:
        NotFound: the trigger never fired for ``event``.
    """
    for run in ran:
        if run.reason.get("name") == TRIGGER and run.reason.get("event") == event:
            return run
    firing = next((f for f in ws.pipelines.list_firings(trigger.id, 1000) if f.event == event), None)
    if firing is None:
        raise NotFound(f"trigger {TRIGGER} has not fired for {event}; run `slipway scheduler --once` and look at "
                       "`slipway pipelines schedules`")
    run = ws.pipelines.get_run(firing.run_id)
    if run.status == "QUEUED":
        run = ws.pipelines.execute_queued(run.id)
    return run
