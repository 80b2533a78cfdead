"""A logger killed with SIGKILL mid-write leaves a consistent store holding everything it flushed."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from slipway.workspace import open_workspace
from tests.integration.tracking_workers import log_until_killed
from tests.support import make_settings

BATCH = 300


@pytest.mark.timeout(120)
def test_sigkill_while_logging_keeps_every_flushed_point(home: Path, tmp_path: Path) -> None:
    progress = tmp_path / "progress"
    child = multiprocessing.get_context("spawn").Process(target=log_until_killed, args=(str(home), str(progress), BATCH))
    child.start()
    deadline = time.time() + 90
    while time.time() < deadline:
        if progress.exists() and int(progress.read_text().split()[1]) >= 5 * BATCH:
            break
        time.sleep(0.02)
    time.sleep(0.013)  # land the kill somewhere inside the next batch, not at a tidy boundary
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    run_id, flushed_text = progress.read_text().split()
    flushed = int(flushed_text)
    assert flushed >= 5 * BATCH

    ws = open_workspace(make_settings(home))
    try:
        stored = ws.backend("tracking").count_metric_points(run_id)
        # Everything reported flushed is there; at most the batch in flight when killed is extra,
        # and it is all-or-nothing (a whole number of batches).
        assert stored in (flushed, flushed + BATCH)
        steps = [m.step for m in ws.tracking.get_metric_history(run_id, "loss")]
        assert steps == list(range(stored))
        verdict = ws.audit.verify()
        assert verdict.ok, verdict.reason
        assert ws.tracking.get_run(run_id).status == "RUNNING"
        ws.tracking.log_metric("after", 1.0, run_id=run_id)  # the store still takes writes
        ws.tracking.flush()
        assert ws.tracking.get_run(run_id).metrics["after"] == 1.0
    finally:
        ws.close()
