"""The background metric logger: size and time bounds, and no run losing points to another's error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from slipway.core.errors import Conflict
from slipway.workspace import open_workspace
from tests.support import make_settings


def test_flushes_on_size_and_time_bounds(home: Path) -> None:
    ws = open_workspace(make_settings(home, metric_batch_size=100, metric_flush_seconds=0.2))
    backend = ws.backend("tracking")
    run = ws.tracking.start_run("bounds")
    for step in range(100):  # reaching the size bound wakes the writer at once
        ws.tracking.log_metric("a", float(step), step=step)
    ws.tracking.log_metric("b", 1.0)  # below the size bound: written by the time bound
    deadline = time.time() + 10
    while backend.count_metric_points(run.id) < 101 and time.time() < deadline:
        time.sleep(0.05)
    assert backend.count_metric_points(run.id) == 101  # without any flush call
    ws.tracking.end_run()
    ws.close()


def test_one_runs_error_does_not_drop_another_runs_points(home: Path) -> None:
    ws = open_workspace(make_settings(home, metric_flush_seconds=3600))
    tracking = ws.tracking
    doomed = tracking.start_run("doomed").id
    tracking.end_run()
    healthy = tracking.start_run("healthy").id
    tracking.end_run()
    tracking.log_metric("x", 1.0, run_id=doomed)
    for step in range(10):
        tracking.log_metric("x", float(step), step=step, run_id=healthy)
    tracking.delete_run(doomed)
    with pytest.raises(Conflict, match="deleted"):
        tracking.flush()
    assert ws.backend("tracking").count_metric_points(healthy) == 10
    assert ws.backend("tracking").count_metric_points(doomed) == 0
    tracking.flush()  # the refused points are not retried forever
    ws.close()


def test_points_are_flushed_at_exit_and_failures_reported(home: Path) -> None:
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        from pathlib import Path
        from slipway.workspace import open_workspace
        from tests.support import make_settings
        ws = open_workspace(make_settings(Path({str(home)!r}), metric_flush_seconds=3600))
        kept = ws.tracking.start_run("kept").id
        gone = ws.tracking.start_run("gone", nested=True).id
        for step in range(25):
            ws.tracking.log_metric("x", float(step), step=step, run_id=kept)
        ws.tracking.log_metric("x", 1.0, run_id=gone)
        ws.tracking.delete_run(gone)
        print(kept)
    """)  # no flush, no end_run: the interpreter's exit must write the buffered points
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    ws = open_workspace(make_settings(home))
    assert ws.backend("tracking").count_metric_points(result.stdout.strip()) == 25
    assert "could not be written at exit" in result.stderr and "deleted" in result.stderr
    ws.close()
