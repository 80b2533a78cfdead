"""Monitor actions over AI4I weeks: a drift alert queues its retraining once and posts to the
webhooks once, a failing quality check holds the retraining back, re-running a window fires
nothing again, the scheduler runs monitors on their cron, and bad actions are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.core.errors import InvalidInput
from slipway.pipelines.scheduler import Scheduler
from slipway.workspace import Workspace
from tests.monitoring.test_monitors import SPEC, TORQUE, weeks  # noqa: F401 - the weeks fixture

ACTIONS = ["alert", "webhook", {"type": "pipeline", "when": ["drift"], "unless": ["quality"]}]
MINUTE = 60_000


def _actions(ws: Workspace) -> list[dict[str, object]]:
    return [e.details for e in sorted(ws.audit.log(action="monitor.action", limit=500), key=lambda e: e.seq)]


def test_a_drift_alert_retrains_once_and_a_quality_failure_holds_retraining_back(
        sqlite_ws: Workspace, weeks: dict[str, Path]) -> None:  # noqa: F811
    ws = sqlite_ws
    ws.data.add("train", weeks["train"])
    ws.data.add("week", weeks["clean"])
    hook = ws.governance.add_webhook("http://127.0.0.1:9/hook", ["alert"])
    ws.monitoring.apply({**SPEC, "actions": ACTIONS})
    ws.pipelines.on_alert("retrain-on-drift", "failures-inputs", "tests.pipelines.flows:on_alert", param="alert")
    assert ws.monitoring.run("failures-inputs").status == "ok" and _actions(ws) == []

    ws.data.add("week", weeks["drift"])
    drifted = ws.monitoring.run("failures-inputs")
    [alert] = ws.monitoring.alerts()
    [action] = _actions(ws)
    queued = ws.pipelines.list_runs(status="QUEUED")
    assert [r.params for r in queued] == [{"alert": alert.id}]
    assert action["action"] == "pipeline" and action["alert"] == alert.id and action["run"] == drifted.id
    assert action["numbers"]["drifted_columns"] == [TORQUE] and action["numbers"]["scores"][TORQUE] > 0.1
    assert action["outcome"] == {"queued_runs": [queued[0].id], "pipelines": ["on_alert"]}
    [delivery] = ws.governance.deliveries(hook["webhook"].id)
    assert delivery.event_type == "alert"
    opened = ws.audit.log(action="alert.open")
    assert opened[0].details["webhook_deliveries"] == 1

    again = ws.monitoring.run("failures-inputs")  # the same window: nothing recorded, nothing fired
    assert (again.id, again.created) == (drifted.id, False)
    assert len(_actions(ws)) == 1 and len(ws.pipelines.list_runs(status="QUEUED")) == 1
    assert len(ws.governance.deliveries(hook["webhook"].id)) == 1
    ws.monitoring.resolve(alert.id, "retrained")

    ws.data.add("week", weeks["zeroed"])  # zeroed torque: drift and quality fail together
    zeroed = ws.monitoring.run("failures-inputs")
    assert sorted(c["name"] for c in zeroed.result["checks"] if not c["passed"]) == ["drift", "quality"]
    assert len(_actions(ws)) == 1  # the pipeline action held back: unless: [quality]
    assert len(ws.pipelines.list_runs(status="QUEUED")) == 1
    assert len(ws.governance.deliveries(hook["webhook"].id)) == 3  # the two new alerts went to the webhook


def test_the_scheduler_runs_a_monitor_when_its_cron_time_comes(sqlite_ws: Workspace, weeks: dict[str, Path]) -> None:  # noqa: F811
    ws = sqlite_ws
    ws.data.add("train", weeks["train"])
    ws.data.add("week", weeks["drift"])
    monitor = ws.monitoring.apply({**SPEC, "schedule": "*/10 * * * *", "actions": ACTIONS})
    ws.pipelines.on_alert("retrain-on-drift", "failures-inputs", "tests.pipelines.flows:on_alert", param="alert")
    now = [monitor.updated_ms]
    lines: list[str] = []
    scheduler = Scheduler(ws, clock=lambda: now[0], report=lines.append)
    assert scheduler.run_monitors() == []  # not yet: no cron time since it was applied
    now[0] += 11 * MINUTE
    done = scheduler.tick()  # runs the monitor; its alert queues the retraining, executed in the same tick
    assert [r.reason["name"] for r in done] == ["retrain-on-drift"] and done[0].status == "SUCCEEDED"
    [run] = ws.monitoring.history("failures-inputs")
    assert run.status == "alert" and any("monitor failures-inputs: run" in line for line in lines)
    assert scheduler.run_monitors() == []  # this cron time was handled
    now[0] += 10 * MINUTE
    [again] = scheduler.run_monitors()  # the next cron time: the same window, the stored run
    assert (again.id, again.created) == (run.id, False)
    assert len(ws.monitoring.history("failures-inputs")) == 1 and len(_actions(ws)) == 1


@pytest.mark.parametrize(("actions", "message"), [
    (["page-someone"], "unknown action 'page-someone'"),
    ([{"type": "pipeline", "when": ["latency"]}], "must list checks of this monitor"),
    ([{"type": "pipeline", "on": ["drift"]}], r"unknown key\(s\) \['on'\]"),
    ([{"type": "rollback"}], "needs 'deployment'"),
    ([{"type": "webhook", "deployment": "x"}], "'deployment' is a deployment name"),
])
def test_bad_actions_are_refused_and_change_nothing(sqlite_ws: Workspace, weeks: dict[str, Path],  # noqa: F811
                                                    actions: list[object], message: str) -> None:
    sqlite_ws.data.add("train", weeks["train"])
    before = len(sqlite_ws.audit.log(limit=500))
    with pytest.raises(InvalidInput, match=message):
        sqlite_ws.monitoring.apply({**SPEC, "actions": actions})
    assert sqlite_ws.monitoring.monitors() == []
    assert len(sqlite_ws.audit.log(limit=500)) == before


def test_bad_schedules_quality_columns_and_references_are_refused(sqlite_ws: Workspace, weeks: dict[str, Path]) -> None:  # noqa: F811
    sqlite_ws.data.add("train", weeks["train"])
    with pytest.raises(InvalidInput, match="not a cron expression"):
        sqlite_ws.monitoring.apply({**SPEC, "schedule": "every monday"})
    with pytest.raises(InvalidInput, match=r"unknown column\(s\) \['Torque'\]"):
        sqlite_ws.monitoring.apply({**SPEC, "checks": [{"type": "quality", "columns": ["Torque"]}]})
    with pytest.raises(InvalidInput, match="only a deployment's monitor takes its reference from lineage"):
        sqlite_ws.monitoring.apply({**SPEC, "reference": "lineage"})
    assert sqlite_ws.monitoring.monitors() == []
