"""Schedules and triggers: each firing runs exactly once, across restarts and rival schedulers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from slipway.core.errors import AlreadyExists, InvalidInput
from slipway.pipelines.scheduler import Scheduler
from slipway.workspace import Workspace
from tests.pipelines import flows

FLOWS_FILE = Path(flows.__file__).resolve()
MINUTE = 60_000


def _runs_by_event(ws: Workspace) -> Counter[str]:
    return Counter(r.reason.get("event") for r in ws.pipelines.list_runs(limit=1000) if r.reason.get("kind") == "trigger")


def _wait_for(predicate, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the scheduler")


def _start_scheduler(home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_SERVER_URL": "",
           "SLIPWAY_STORE_URI": "", "SLIPWAY_ARTIFACTS_URI": ""}
    return subprocess.Popen([sys.executable, "-m", "slipway.cli.main", "scheduler", "--poll", "0.2",
                             "--lease-seconds", "3"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(home))


def _table(n: int) -> pa.Table:
    return pa.table({"x": list(range(n)), "y": [float(i) * 0.5 for i in range(n)]})


def test_dataset_trigger_fires_once_per_version_across_restarts(sqlite_ws: Workspace, home: Path) -> None:
    ws = sqlite_ws
    ws.data.add("sensor", _table(10))
    trigger = ws.pipelines.on_dataset("retrain-on-sensor", "sensor", f"{FLOWS_FILE}:on_new_data")
    assert trigger.baseline == 1  # versions that existed before the trigger never fire

    scheduler = _start_scheduler(home)
    try:
        ws.data.add("sensor", _table(20))
        _wait_for(lambda: _runs_by_event(ws)["sensor@2"] == 1 and
                  ws.pipelines.list_runs(status="SUCCEEDED", limit=1000) != [])
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait(timeout=30)

        ws.data.add("sensor", _table(30))  # arrives while no scheduler runs
        # Restart as two rival schedulers at once.
        scheduler, rival = _start_scheduler(home), _start_scheduler(home)
        try:
            _wait_for(lambda: _runs_by_event(ws)["sensor@3"] == 1)
            ws.data.add("sensor", _table(40))
            _wait_for(lambda: _runs_by_event(ws)["sensor@4"] == 1)
            _wait_for(lambda: not ws.pipelines.list_runs(status="QUEUED") and
                      not ws.pipelines.list_runs(status="RUNNING"))
            time.sleep(1.0)  # several more polls by both: nothing fires twice
        finally:
            rival.send_signal(signal.SIGTERM)
            rival.wait(timeout=60)
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.wait(timeout=60)

    assert _runs_by_event(ws) == {"sensor@2": 1, "sensor@3": 1, "sensor@4": 1}
    runs = {r.reason["event"]: r for r in ws.pipelines.list_runs(limit=100)}
    for event, rows in (("sensor@2", 20), ("sensor@3", 30), ("sensor@4", 40)):
        run = runs[event]
        assert run.status == "SUCCEEDED", run.error
        assert run.reason == {"kind": "trigger", "name": "retrain-on-sensor", "event": event,
                              "trigger_kind": "dataset", "target": "sensor"}
        assert run.params == {"dataset": event}
        assert ws.pipelines.output(run.id, "count_rows") == rows
    assert sorted(f.event for f in ws.pipelines.list_firings(trigger.id)) == ["sensor@2", "sensor@3", "sensor@4"]


def test_cron_schedule_claims_each_fire_time_once(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    daily = ws.pipelines.schedule("every-5-min", "tests.pipelines.flows:fan_out", "*/5 * * * *", {"n": 2})
    backlog = ws.pipelines.schedule("catch-up", "tests.pipelines.flows:fan_out", "*/5 * * * *", {"n": 3},
                                    catchup=True)
    first_fire = (daily.created_ms // (5 * MINUTE) + 1) * 5 * MINUTE  # the first */5 time after creation
    now = [first_fire + 5 * MINUTE + 1000]  # two fire times are due: first_fire and 5 minutes later
    first = Scheduler(ws, clock=lambda: now[0])
    rival = Scheduler(ws, clock=lambda: now[0])

    claimed = first.claim_due()
    assert Counter(r.reason["name"] for r in claimed) == {"every-5-min": 1, "catch-up": 2}
    assert rival.claim_due() == [] and first.claim_due() == []
    assert len(ws.pipelines.list_firings(backlog.id)) == 2  # both missed fire times, each once

    done = rival.execute_queued()
    assert len(done) == 3 and all(r.status == "SUCCEEDED" for r in done)
    assert first.execute_queued() == []  # nothing left to start
    latest = next(r for r in done if r.reason["name"] == "every-5-min")
    fired = [f.event for f in ws.pipelines.list_firings(daily.id)]
    assert latest.reason["event"] == fired[0] and latest.params == {"n": 2}

    now[0] += 5 * MINUTE
    assert sorted(r.reason["name"] for r in first.claim_due()) == ["catch-up", "every-5-min"]


def test_alert_triggers_queue_once_per_alert(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.pipelines.on_alert("retrain-on-drift", "churn-drift", "tests.pipelines.flows:retrying", param="marker")
    assert len(ws.pipelines.notify_alert("churn-drift", "alert-1")) == 1
    assert ws.pipelines.notify_alert("churn-drift", "alert-1") == []
    assert ws.pipelines.notify_alert("other-monitor", "alert-2") == []
    queued = ws.pipelines.list_runs(status="QUEUED")
    assert len(queued) == 1 and queued[0].params == {"marker": "alert-1"}


def test_bad_schedules_and_triggers_are_refused(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    with pytest.raises(InvalidInput, match="not a cron expression"):
        ws.pipelines.schedule("bad", "tests.pipelines.flows:fan_out", "every day")
    with pytest.raises(InvalidInput, match="pipeline reference"):
        ws.pipelines.schedule("bad", "no-colon", "* * * * *")
    ws.pipelines.schedule("nightly", "tests.pipelines.flows:fan_out", "0 3 * * *")
    with pytest.raises(AlreadyExists):
        ws.pipelines.schedule("nightly", "tests.pipelines.flows:fan_out", "0 4 * * *")
    assert [s.cron for s in ws.pipelines.list_schedules()] == ["0 3 * * *"]


def test_a_run_killed_mid_step_is_recovered_once(sqlite_ws: Workspace, home: Path, tmp_path: Path) -> None:
    ws = sqlite_ws
    flag = tmp_path / "hold"
    flag.write_text("hold the step")
    ws.data.add("meter", _table(5))
    ws.pipelines.on_dataset("slow-retrain", "meter", f"{FLOWS_FILE}:slow_on_new_data", {"flag_file": str(flag)})
    ws.data.add("meter", _table(6))
    scheduler = _start_scheduler(home)
    try:
        def killed_run_reached_the_nap() -> bool:
            runs = ws.pipelines.list_runs(status="RUNNING")
            return bool(runs) and runs[0].step("count_rows").status == "SUCCEEDED"

        _wait_for(killed_run_reached_the_nap)
    finally:
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait(timeout=30)
    killed = ws.pipelines.list_runs(status="RUNNING")[0]
    flag.unlink()

    now = [killed.start_ms + 10 * MINUTE]  # long after its last heartbeat
    later = Scheduler(ws, clock=lambda: now[0])
    queued = later.recover()
    assert len(queued) == 1 and queued[0].resumed_from == killed.id
    assert later.recover() == [] and Scheduler(ws, clock=later.clock).recover() == []
    failed = ws.pipelines.get_run(killed.id)
    assert failed.status == "FAILED" and "no heartbeat" in (failed.error or "")

    assert later.execute_queued() == []  # the resume waits out its backoff first
    now[0] += MINUTE
    done = later.execute_queued()
    assert [r.status for r in done] == ["SUCCEEDED"]
    resumed = done[0]
    assert resumed.reason["kind"] == "recover" and resumed.reason["original"]["event"] == "meter@2"
    assert resumed.step("count_rows").cached and resumed.step("count_rows").details["reused_from"] == killed.id
    assert ws.pipelines.output(resumed.id, "nap_while") == 6
    assert _runs_by_event(ws) == {"meter@2": 1}  # the firing itself was claimed once
