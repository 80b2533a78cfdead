"""Scheduler replicas: only the holder of the scheduler lease acts; killing it mid-run hands the
work to a standby, which resumes the killed run once (real processes over PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import select

from slipway.pipelines.scheduler import Scheduler
from slipway.store.database import Database
from slipway.store.schema.leases import leases
from slipway.workspace import Workspace, open_workspace, set_default
from tests.pipelines import flows
from tests.support import make_settings

FLOWS_FILE = Path(flows.__file__).resolve()


def _table(n: int) -> pa.Table:
    return pa.table({"x": list(range(n)), "y": [float(i) * 0.5 for i in range(n)]})


def test_only_the_lease_holder_ticks_and_a_standby_takes_over_after_expiry(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.data.add("sensor", _table(10))
    ws.pipelines.on_dataset("retrain-on-sensor", "sensor", f"{FLOWS_FILE}:on_new_data")
    now = [1_000_000]
    lines: list[str] = []
    a = Scheduler(ws, clock=lambda: now[0], holder="a", lease_s=10.0, report=lines.append)
    b = Scheduler(ws, clock=lambda: now[0], holder="b", lease_s=10.0, report=lines.append)
    ws.data.add("sensor", _table(20))
    done = b.lead_once()  # b asks first: b leads ...
    assert done is not None and [r.reason["event"] for r in done] == ["sensor@2"]
    assert a.lead_once() is None  # ... and a stands by
    assert [r.status for r in ws.pipelines.list_runs(limit=10)] == ["SUCCEEDED"]
    ws.data.add("sensor", _table(30))
    assert a.lead_once() is None  # still b's lease: a fires nothing
    assert len(ws.pipelines.list_runs(limit=10)) == 1
    now[0] += 10_000  # b died: its lease ran out
    done = a.lead_once()
    assert done is not None and [r.reason["event"] for r in done] == ["sensor@3"]
    assert b.lead_once() is None
    assert "b: leading scheduler (token 1)" in lines and "a: leading scheduler (token 2)" in lines
    assert "b: lost scheduler; standing by" in lines


def _start(home: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "slipway.cli.main", "scheduler", "--poll", "0.2",
                             "--lease-seconds", "3", "--stale-after", "10"], env=env, cwd=str(home),
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _wait_for(predicate, timeout: float = 240.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the schedulers")


@pytest.mark.postgres
@pytest.mark.slow
def test_killing_the_leading_scheduler_mid_run_hands_over_and_resumes_once(home: Path, pg_uri: str,
                                                                          tmp_path: Path) -> None:
    ws = open_workspace(make_settings(home, store_uri=pg_uri))
    set_default(ws)
    db = Database(pg_uri)
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_STORE_URI": pg_uri, "SLIPWAY_SERVER_URL": "",
           "SLIPWAY_TOKEN": "", "SLIPWAY_USER": ws.settings.user, "SLIPWAY_SIGNING_KEY": str(ws.settings.signing_key)}
    flag = tmp_path / "hold"
    flag.write_text("hold the step")
    logs = [tmp_path / "scheduler-0.log", tmp_path / "scheduler-1.log"]
    processes: list[subprocess.Popen[bytes]] = []

    def holder_pid() -> int | None:
        with db.read() as conn:
            row = conn.execute(select(leases).where(leases.c.name == "scheduler")).one_or_none()
        return None if row is None else int(str(row.holder).split(":")[1])

    try:
        ws.data.add("meter", _table(5))
        trigger = ws.pipelines.on_dataset("slow-retrain", "meter", f"{FLOWS_FILE}:slow_on_new_data",
                                          {"flag_file": str(flag)})
        processes = [_start(home, env, log) for log in logs]
        _wait_for(lambda: holder_pid() is not None)
        ws.data.add("meter", _table(6))

        def reached_the_nap() -> bool:
            runs = ws.pipelines.list_runs(status="RUNNING")
            return bool(runs) and runs[0].step("count_rows").status == "SUCCEEDED"

        _wait_for(reached_the_nap)
        leader_pid = holder_pid()
        leader = next(p for p in processes if p.pid == leader_pid)
        leader.send_signal(signal.SIGKILL)  # mid-step of the run it executes
        leader.wait(timeout=30)
        killed = ws.pipelines.list_runs(status="RUNNING")[0]
        flag.unlink()
        survivor = next(p for p in processes if p is not leader)
        # the survivor takes the lease, fails the dead run once its heartbeat is stale, and resumes it
        _wait_for(lambda: any(r.reason.get("kind") == "recover" and r.status == "SUCCEEDED"
                              for r in ws.pipelines.list_runs(limit=100)))
        assert holder_pid() == survivor.pid
        time.sleep(1.0)  # more ticks: nothing is fired or resumed twice
        runs = ws.pipelines.list_runs(limit=100)
        assert sorted((r.reason.get("kind"), r.status) for r in runs) == [("recover", "SUCCEEDED"),
                                                                         ("trigger", "FAILED")]
        resumed = next(r for r in runs if r.reason.get("kind") == "recover")
        assert resumed.resumed_from == killed.id and resumed.reason["original"]["event"] == "meter@2"
        assert resumed.step("count_rows").cached  # the step the killed leader completed is reused
        assert [f.event for f in ws.pipelines.list_firings(trigger.id)] == ["meter@2"]
        assert ws.audit.verify().ok
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
        db.dispose()
        ws.close()
        set_default(None)
    killed_log = logs[processes.index(leader)].read_text()
    survivor_log = logs[processes.index(survivor)].read_text()
    assert "leading scheduler (token 1)" in killed_log and "queued pipeline run" in killed_log
    taking_over = survivor_log.index("leading scheduler (token 2)")
    assert "queued pipeline run" not in survivor_log[:taking_over]  # it stood by while the other led
    assert f"pipeline run {killed.id} lost its process" in survivor_log
