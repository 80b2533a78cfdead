"""The weekly retrain as a dataset trigger, fired by the scheduler's own tick."""

from __future__ import annotations

from typing import Any

from slipway.core.errors import NotFound
from slipway.quickstart.progress import Reporter
from slipway.quickstart.project import Project
from slipway.quickstart.team import DATASET

TRIGGER = "weekly-retrain"


def ensure_trigger(ws: Any, project: Project, reporter: Reporter) -> Any:
    """The trigger that runs the pipeline once per new version of the dataset (created once,
    before the first weekly drop, so it fires for that drop)."""
    found = next((t for t in ws.pipelines.list_triggers() if t.name == TRIGGER), None)
    if found is None:
        found = ws.pipelines.on_dataset(TRIGGER, DATASET, project.pipeline_ref)
        reporter.ok(f"trigger {TRIGGER}: every new version of {DATASET} after {DATASET}@{found.baseline} runs the pipeline")
    else:
        reporter.ok(f"trigger {TRIGGER} exists (fires on versions of {DATASET} after @{found.baseline})")
    return found


def triggered_run(ws: Any, trigger: Any, event: str, ran: list[Any]) -> Any:
    """The pipeline run the trigger started for ``event`` (``ai4i@2``): this tick's, or the one an
    earlier tick (an earlier quickstart, or ``slipway scheduler``) ran.

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
