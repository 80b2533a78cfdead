"""What a SIGKILL during fast logging costs: nothing in durable mode, at most the bound in buffered mode.

A child process logs points with steps 0, 1, 2, ... as fast as it can and, after each
``log_metric`` returns, writes how many were acknowledged into a shared memory-mapped counter. The
test kills it with SIGKILL once enough points were acknowledged, then counts what the store holds.
"""

from __future__ import annotations

import mmap
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

from slipway.tracking.backend import TrackingBackend
from slipway.tracking.spool import spool_folder
from slipway.workspace import open_workspace
from tests.support import make_settings

REPO = Path(__file__).resolve().parents[2]
KILL_AFTER = 20_000


def _log_until_killed(home: Path, tmp_path: Path, durable: bool, **settings: object) -> tuple[str, int]:
    """Start the child, SIGKILL it once KILL_AFTER points are acknowledged; (run id, acknowledged)."""
    counter = tmp_path / "acknowledged"
    counter.write_bytes(b"\0" * 8)
    run_file = tmp_path / "run-id"
    script = textwrap.dedent(f"""
        import mmap, struct
        from pathlib import Path
        from slipway.workspace import open_workspace
        from tests.support import make_settings
        ws = open_workspace(make_settings(Path({str(home)!r}), **{settings!r}))
        run = ws.tracking.start_run("fast", durable={durable!r})
        Path({str(run_file)!r}).write_text(run.id)
        with open({str(counter)!r}, "r+b") as f:
            acknowledged = mmap.mmap(f.fileno(), 8)
        log, pack = ws.tracking.log_metric, struct.pack_into
        step = 0
        while True:
            log("loss", 1.0 / (step + 1), step=step)
            step += 1
            pack("<q", acknowledged, 0, step)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stderr=subprocess.PIPE)
    with open(counter, "r+b") as f:
        shared = mmap.mmap(f.fileno(), 8)
    deadline = time.monotonic() + 120  # a liveness guard for a broken child, not a timing assertion
    while struct.unpack_from("<q", shared, 0)[0] < KILL_AFTER:
        if child.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the child stopped early: {child.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    acknowledged = struct.unpack_from("<q", shared, 0)[0]
    return run_file.read_text(), acknowledged


def test_durable_mode_loses_no_acknowledged_point_to_sigkill(home: Path, tmp_path: Path) -> None:
    # Batches of 1,000 are committed in the background while logging goes on, so at the kill some
    # points are stored, some are only spooled, and one batch may be half-way: replay must write
    # exactly the missing ones.
    run_id, acknowledged = _log_until_killed(home, tmp_path, durable=True, metric_batch_size=1000,
                                             metric_flush_seconds=3600)
    assert any(spool_folder(home).glob("*.spool"))
    ws = open_workspace(make_settings(home))
    ws.tracking.get_run(run_id)  # the first use of the tracking service replays the dead process's spool
    steps = [m.step for m in ws.tracking.get_metric_history(run_id, "loss")]
    assert set(range(acknowledged)) <= set(steps)  # every acknowledged point is there ...
    assert max(Counter(steps).values()) == 1  # ... exactly once
    assert len(steps) <= acknowledged + 1  # (+1: the point being logged when the kill came)
    assert not any(spool_folder(home).glob("*.spool"))
    assert ws.tracking.recover_metrics().replayed == 0  # nothing left; a second replay is a no-op

    # The killed process's run stops sending heartbeats, so it is reaped as FAILED (issue 13 item 12).
    run = ws.tracking.get_run(run_id)
    assert run.status == "RUNNING"
    later = TrackingBackend(ws.backend("tracking").ctx, clock=lambda: run.start_ms + 301_000)
    assert later.reap_stale_runs() == [run_id]
    assert ws.tracking.get_run(run_id).status == "FAILED"
    ws.close()


def test_buffered_mode_loses_at_most_the_buffer_bound(home: Path, tmp_path: Path) -> None:
    # A batch size far above the bound and no timer: without the bound nothing would be written.
    bound = 2_000
    run_id, acknowledged = _log_until_killed(home, tmp_path, durable=False, metric_batch_size=1_000_000,
                                             metric_flush_seconds=3600, metric_buffer_max=bound)
    ws = open_workspace(make_settings(home))
    steps = [m.step for m in ws.tracking.get_metric_history(run_id, "loss")]
    assert acknowledged - len(steps) <= bound
    assert max(Counter(steps).values()) == 1
    assert not any(spool_folder(home).glob("*.spool"))  # buffered mode writes no spool
    ws.close()
