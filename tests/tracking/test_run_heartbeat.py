"""Runs of a dead process do not stay RUNNING: heartbeats, and reaping the stale ones (issue 13 item 12).

Time is an injected clock throughout; nothing waits on the wall clock.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput
from slipway.tracking.backend import TrackingBackend
from slipway.tracking.logger import MetricLogger
from slipway.workspace import Workspace

SECOND = 1000
T0 = 1_800_000_000_000


def _backend_at(ws: Workspace, now: list[int]) -> TrackingBackend:
    return TrackingBackend(ws.backend("tracking").ctx, clock=lambda: now[0])


def test_stale_running_runs_are_reaped_and_live_ones_kept(sqlite_ws: Workspace) -> None:
    now = [T0]
    backend = _backend_at(sqlite_ws, now)
    dead = backend.create_run(name="dead").id
    alive = backend.create_run(name="alive").id
    done = backend.create_run(name="done").id
    backend.end_run(done, "FINISHED")
    now[0] = T0 + 200 * SECOND
    assert backend.heartbeat_runs([alive, done]) == 1  # only RUNNING runs take a heartbeat
    now[0] = T0 + 299 * SECOND
    assert backend.reap_stale_runs() == []  # 299 s of silence: not yet (run_stale_seconds is 300)
    now[0] = T0 + 301 * SECOND
    assert backend.reap_stale_runs() == [dead]
    reaped = backend.get_run(dead)
    assert (reaped.status, reaped.end_ms) == ("FAILED", T0)  # ended at its last sign of life
    assert backend.get_run(alive).status == "RUNNING"
    assert backend.get_run(done).status == "FINISHED"
    assert [e.action for e in sqlite_ws.audit.log(subject=f"run:{dead}", action="run.reap")] == ["run.reap"]
    now[0] = T0 + 600 * SECOND
    assert backend.reap_stale_runs() == [alive]  # its process stopped beating too
    assert backend.reap_stale_runs() == []  # a reaped run is reaped once
    with pytest.raises(InvalidInput, match="stale_seconds"):
        backend.reap_stale_runs(0)


def test_the_logger_thread_sends_heartbeats_for_its_runs(sqlite_ws: Workspace) -> None:
    now = [T0]
    backend = _backend_at(sqlite_ws, now)
    logger = MetricLogger(backend, flush_seconds=3600, heartbeat_seconds=30, clock=lambda: now[0])
    run = backend.create_run(name="training").id
    other = backend.create_run(name="not-ours").id
    logger.watch(run)
    now[0] = T0 + 29 * SECOND
    assert logger.beat() is False  # not due yet
    now[0] = T0 + 250 * SECOND
    assert logger.beat() is True
    now[0] = T0 + 350 * SECOND  # 100 s after the beat, 350 s after the start
    assert backend.reap_stale_runs() == [other]
    logger.unwatch(run)
    now[0] = T0 + 400 * SECOND
    assert logger.beat() is False  # nothing left to beat for
    now[0] = T0 + 551 * SECOND
    assert backend.reap_stale_runs() == [run]


def test_started_runs_are_watched_and_ended_runs_released(sqlite_ws: Workspace) -> None:
    tracking = sqlite_ws.tracking
    with tracking.start_run("watched") as run:
        assert run.id in tracking.logger._beating
    assert run.id not in tracking.logger._beating


def test_cli_reap(sqlite_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from slipway.cli.main import app

    monkeypatch.setenv("SLIPWAY_HOME", str(sqlite_ws.settings.home))
    monkeypatch.delenv("SLIPWAY_SERVER_URL", raising=False)
    backend = _backend_at(sqlite_ws, [now_ms() - 3600 * SECOND])  # started an hour ago by a process now gone
    dead = backend.create_run(name="dead").id
    result = CliRunner().invoke(app, ["runs", "reap", "--json"])
    assert result.exit_code == 0, result.output
    assert dead in result.output
    assert sqlite_ws.tracking.get_run(dead).status == "FAILED"
    bad = CliRunner().invoke(app, ["runs", "reap", "--stale-seconds", "0"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_heartbeat_reap_and_replay_on_every_transport(workspace: Workspace) -> None:
    from slipway.tracking.spool import MetricSpool, spool_folder

    tracking = workspace.tracking
    backend = workspace.backend("tracking")
    with tracking.start_run("live", durable=False) as run:
        assert backend.heartbeat_runs([run.id]) == 1
        assert backend.reap_stale_runs() == []  # it just beat
        tracking.log_batch(run.id, metrics=[("x", 1.0, 0, 5)])
        # A spool left by a dead process: one point already stored, two not, one of them NaN.
        spool = MetricSpool(spool_folder(workspace.settings.home))
        for point in [("x", 1.0, 0, 5), ("x", 2.0, 1, 6), ("x", float("nan"), 2, 7)]:
            spool.append(run.id, point)
        spool.close(keep=True)  # the lock goes with it, as with a killed process
        report = tracking.recover_metrics()
        assert (report.files, report.replayed, report.already_stored) == (1, 2, 1)
        history = tracking.get_metric_history(run.id, "x")
        assert [(m.step, m.ts) for m in history] == [(0, 5), (1, 6), (2, 7)]
        assert tracking.recover_metrics().files == 0


def test_closing_the_workspace_stops_the_logger_thread_and_its_heartbeats(tmp_path) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(tmp_path))
    run = ws.tracking.start_run("short")
    ws.tracking.log_metric("loss", 0.5, run_id=run.id)
    logger = ws.tracking.logger
    thread = logger._thread
    ws.close()
    thread.join(timeout=30)
    assert not thread.is_alive()  # no thread left beating for a store that is gone
    assert logger.beat() is False or not logger._beating
    reopened = open_workspace(make_settings(tmp_path))
    assert [m.value for m in reopened.tracking.get_metric_history(run.id, "loss")] == [0.5]
    reopened.close()
