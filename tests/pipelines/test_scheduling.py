"""Scheduling that cannot wedge: schedules and triggers are checked as runs are, stored by source,
listed, disabled, enabled, updated, deleted; runs are cancelled; a bad run never blocks another."""

from __future__ import annotations

import shutil
import textwrap
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from slipway.blobs.manifest import Manifest, ManifestEntry, load_manifest
from slipway.core.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from slipway.pipelines.backend_liveness import MAX_RUN_ATTEMPTS
from slipway.pipelines.scheduler import Scheduler
from slipway.pipelines.sources import store_source
from slipway.workspace import Workspace
from tests.pipelines import flows

FLOWS_FILE = Path(flows.__file__).resolve()
MINUTE = 60_000
FIVE_MINUTES = 5 * MINUTE

FLOW = textwrap.dedent('''
    import time
    from pathlib import Path

    from slipway.pipelines import pipeline, step


    @step
    def numbers(n: int) -> list:
        return list(range(n))


    @step
    def total(values: list, scale: float) -> float:
        return sum(values) * scale


    @pipeline
    def summing(n: int = 4, scale: float = 1.0):
        total(numbers(n), scale)


    @step
    def hold(flag: str) -> int:
        while flag and Path(flag).exists():
            time.sleep(0.02)
        return 1


    @step
    def after(value: int, marker: str) -> int:
        Path(marker).write_text("ran")
        return value


    @pipeline
    def held(flag: str = "", marker: str = ""):
        after(hold(flag), marker)


    @step
    def configured(n: int) -> str:
        import helpers  # a module beside this file

        return helpers.label(n) + Path(__file__).with_name("settings.txt").read_text()


    @pipeline
    def beside(n: int = 2):
        configured(n)
''')


def _table(n: int) -> pa.Table:
    return pa.table({"x": list(range(n))})


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "flow.py"
    path.parent.mkdir()
    path.write_text(FLOW)
    path.with_name("helpers.py").write_text("def label(n):\n    return f'n={n} '\n")
    path.with_name("settings.txt").write_text("from the project folder")
    path.with_name("big.csv").write_bytes(b"x" * (300 * 1024))  # data, not source: left out
    return path


def test_a_schedule_or_trigger_is_checked_as_run_checks_it(sqlite_ws: Workspace, flow: Path) -> None:
    ws = sqlite_ws
    with pytest.raises(InvalidInput, match="has no pipeline named 'NOSUCH'"):
        ws.pipelines.schedule("nightly", f"{flow}:NOSUCH", "0 3 * * *")
    with pytest.raises(NotFound, match="does not exist"):
        ws.pipelines.schedule("nightly", f"{flow.parent}/missing.py:summing", "0 3 * * *")
    with pytest.raises(InvalidInput, match="n='many' is not a valid int"):
        ws.pipelines.schedule("nightly", f"{flow}:summing", "0 3 * * *", {"n": "many"})
    with pytest.raises(InvalidInput, match="has no parameter 'bogus'"):
        ws.pipelines.schedule("nightly", f"{flow}:summing", "0 3 * * *", {"bogus": 1})
    with pytest.raises(InvalidInput, match="has no parameter 'dataset'"):  # the event would have nowhere to go
        ws.pipelines.on_dataset("retrain", "sensor", f"{flow}:summing")
    assert ws.pipelines.list_schedules() == [] and ws.pipelines.list_triggers() == []

    created = ws.pipelines.schedule("nightly", f"{flow}:summing", "0 3 * * *", {"n": "5"})
    assert created.params == {"n": 5}  # parsed as 'run' parses them
    assert created.origin == f"{flow}:summing"
    assert created.pipeline == f"stored:{created.source_digest}/flow.py:summing"
    stored = {e.path: e.digest for e in load_manifest(ws.blobs, created.source_digest).entries}
    assert sorted(stored) == ["flow.py", "helpers.py", "settings.txt"]
    assert ws.blobs.read_bytes(stored["flow.py"]) == flow.read_bytes()


def test_a_bad_run_fails_and_the_trigger_run_behind_it_still_runs(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    backend = ws.backend("pipelines")
    # Schedules a client could store without the client-side checks (straight through the API).
    backend.create_schedule("bad-params", store_source(ws.blobs, flows.fan_out), "* * * * *", {"n": "many"})
    broken = ws.blobs.put_bytes(b"def broken(:\n")
    folder = ws.blobs.put_bytes(Manifest((ManifestEntry("broken.py", broken, 13, 0o644),)).to_bytes())
    backend.create_schedule("bad-source", f"stored:{folder}/broken.py:broken", "* * * * *")
    ws.data.add("sensor", _table(5))
    ws.pipelines.on_dataset("retrain", "sensor", f"{FLOWS_FILE}:on_new_data")
    ws.data.add("sensor", _table(7))

    now = [ws.pipelines.list_schedules()[0].created_ms + 2 * MINUTE]
    scheduler = Scheduler(ws, clock=lambda: now[0], report=lambda line: None)
    done = {r.reason["name"]: r for r in scheduler.tick()}
    assert done["bad-params"].status == "FAILED" and "n='many' is not a valid int" in (done["bad-params"].error or "")
    assert done["bad-source"].status == "FAILED" and "SyntaxError" in (done["bad-source"].error or "")
    assert done["retrain"].status == "SUCCEEDED"
    assert ws.pipelines.output(done["retrain"].id, "count_rows") == 7

    now[0] += MINUTE
    again = scheduler.tick()  # the bad schedules fire again and fail again; nothing old is retried
    assert sorted(r.reason["name"] for r in again) == ["bad-params", "bad-source"]
    assert all(r.status == "FAILED" for r in again)
    assert ws.pipelines.list_runs(status="QUEUED") == []
    assert ws.pipelines.get_run(done["bad-params"].id).status == "FAILED"


def test_a_run_that_keeps_dying_is_retried_a_bounded_number_of_times(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    backend = ws.backend("pipelines")
    ws.data.add("meter", _table(5))
    ws.pipelines.on_dataset("retrain", "meter", f"{FLOWS_FILE}:on_new_data")
    ws.data.add("meter", _table(6))
    now = [0]
    scheduler = Scheduler(ws, clock=lambda: now[0], report=lambda line: None)
    now[0] = ws.pipelines.list_triggers()[0].created_ms + MINUTE
    (run,) = scheduler.claim_due()
    for attempt in range(1, MAX_RUN_ATTEMPTS + 1):
        backend.claim_run(run.id, [])  # started, then its process is killed: no more heartbeats
        now[0] += 10 * MINUTE
        queued = scheduler.recover()
        if attempt < MAX_RUN_ATTEMPTS:
            assert len(queued) == 1 and queued[0].reason["attempt"] == attempt + 1
            assert queued[0].reason["not_before_ms"] > now[0]  # backoff: not before a while
            run = queued[0]
        else:
            assert queued == []
    last = ws.pipelines.get_run(run.id)
    assert last.status == "FAILED" and f"the limit is {MAX_RUN_ATTEMPTS}" in (last.error or "")
    assert ws.pipelines.list_runs(status="QUEUED") == [] and ws.pipelines.list_runs(status="RUNNING") == []


def test_schedules_and_triggers_are_managed_and_runs_cancelled(workspace: Workspace) -> None:
    ws = workspace
    created = ws.pipelines.schedule("every-5", "tests.pipelines.flows:fan_out", "*/5 * * * *", {"n": "2"})
    assert created.params == {"n": 2} and created.origin == "tests.pipelines.flows:fan_out"
    first = (created.created_ms // FIVE_MINUTES + 1) * FIVE_MINUTES
    (listed,) = ws.pipelines.list_schedules()
    assert listed.enabled and listed.next_fire_ms == first
    ws.pipelines.on_alert("on-drift", "churn-drift", "tests.pipelines.flows:retrying", param="marker")
    with pytest.raises(AlreadyExists):
        ws.pipelines.on_alert("every-5", "churn-drift", "tests.pipelines.flows:retrying", param="marker")

    assert ws.pipelines.disable("every-5").enabled is False
    assert ws.pipelines.list_schedules()[0].next_fire_ms is None
    assert ws.pipelines.disable("on-drift").enabled is False
    now = [first + 1000]
    scheduler = Scheduler(ws, clock=lambda: now[0], report=lambda line: None)
    assert scheduler.recover() == [] and scheduler.claim_due() == [] and ws.pipelines.notify_alert("churn-drift", "alert-1") == []

    assert ws.pipelines.enable("on-drift").enabled
    (queued,) = ws.pipelines.notify_alert("churn-drift", "alert-2")
    assert ws.pipelines.enable("every-5").enabled
    now[0] = max(first, ws.pipelines.list_schedules()[0].updated_ms or 0) + FIVE_MINUTES + 1000
    (fired,) = scheduler.claim_due()
    assert fired.reason["name"] == "every-5" and fired.params == {"n": 2}

    updated = ws.pipelines.update_schedule("every-5", cron="0 * * * *", params={"n": "3"})
    assert updated.cron == "0 * * * *" and updated.params == {"n": 3}
    with pytest.raises(InvalidInput, match="n='x' is not a valid int"):
        ws.pipelines.update_schedule("every-5", params={"n": "x"})
    with pytest.raises(InvalidInput, match="not a cron expression"):
        ws.pipelines.update_schedule("every-5", cron="whenever")
    assert ws.pipelines.list_schedules()[0].params == {"n": 3}
    with pytest.raises(InvalidInput, match="receives the trigger's event"):
        ws.pipelines.update_trigger("on-drift", params={"marker": "x"})
    assert ws.pipelines.update_trigger("on-drift", runner="process").runner == "process"

    cancelled = ws.pipelines.cancel(queued.id)
    assert cancelled.status == "CANCELLED" and "cancelled by" in (cancelled.error or "")
    with pytest.raises(Conflict):
        ws.pipelines.cancel(queued.id)
    with pytest.raises(Conflict):
        ws.pipelines.execute_queued(queued.id)
    done = scheduler.execute_queued()
    assert [r.id for r in done] == [fired.id] and done[0].status == "SUCCEEDED"  # the cancelled one never ran

    assert ws.pipelines.delete("every-5").name == "every-5"
    assert ws.pipelines.delete("on-drift").name == "on-drift"
    assert ws.pipelines.list_schedules() == [] and ws.pipelines.list_triggers() == []
    with pytest.raises(NotFound):
        ws.pipelines.delete("every-5")


def test_a_client_cannot_name_a_file_of_the_schedulers_host(workspace: Workspace) -> None:
    backend = workspace.backend("pipelines")
    missing = "stored:" + "0" * 64 + "/flow.py:x"
    for ref in ("/etc/hostname:x", "../../etc/passwd.py:x", "os:system", missing, "stored:/etc/hostname:x"):
        with pytest.raises(InvalidInput):
            backend.create_schedule("evil", ref, "* * * * *")
        with pytest.raises(InvalidInput):
            backend.create_trigger("evil", "alert", "monitor", ref)
    assert backend.list_schedules() == [] and backend.list_triggers() == []
    workspace.pipelines.schedule("fine", "tests.pipelines.flows:fan_out", "* * * * *")
    with pytest.raises(InvalidInput):
        backend.update_schedule("fine", pipeline="/etc/hostname:x")


def test_a_scheduler_started_from_another_folder_runs_the_schedule(sqlite_ws: Workspace, flow: Path,
                                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = sqlite_ws
    monkeypatch.chdir(flow.parent)
    created = ws.pipelines.schedule("relative", "flow.py:summing", "* * * * *", {"n": "3"})  # as typed in the project
    beside = ws.pipelines.schedule("beside", "flow.py:beside", "* * * * *")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for path in flow.parent.iterdir():  # not even the original folder is needed: its stored copy runs
        shutil.rmtree(path) if path.is_dir() else path.unlink()  # __pycache__ too
    scheduler = Scheduler(ws, clock=lambda: max(created.created_ms, beside.created_ms) + MINUTE + 1000,
                          report=lambda line: None)
    runs = {r.reason["name"]: r for r in scheduler.tick()}
    assert runs["relative"].status == "SUCCEEDED", runs["relative"].error
    assert ws.pipelines.output(runs["relative"].id, "total") == 3.0
    assert runs["beside"].status == "SUCCEEDED", runs["beside"].error
    assert ws.pipelines.output(runs["beside"].id, "configured") == "n=2 from the project folder"


def test_cancelling_a_running_run_stops_it_at_the_next_step_and_resume_finishes_it(sqlite_ws: Workspace, flow: Path,
                                                                                  tmp_path: Path) -> None:
    ws = sqlite_ws
    hold, marker = tmp_path / "hold", tmp_path / "marker"
    hold.write_text("hold")
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(
        ws.pipelines.run(f"{flow}:held", {"flag": str(hold), "marker": str(marker)})))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            running = ws.pipelines.list_runs(status="RUNNING")
            if running and running[0].step("hold").status == "RUNNING":
                break
            time.sleep(0.05)
        (run,) = ws.pipelines.list_runs(status="RUNNING")
        assert ws.pipelines.cancel(run.id).status == "CANCELLED"
    finally:
        hold.unlink()
        worker.join(timeout=60)
    (stopped,) = result
    assert stopped.status == "CANCELLED"  # type: ignore[attr-defined]
    assert not marker.exists()  # the step after the cancel never started
    assert ws.pipelines.get_run(run.id).step("after").status == "SKIPPED"

    resumed = ws.pipelines.resume(run.id)
    assert resumed.status == "SUCCEEDED" and marker.read_text() == "ran"
