"""Child-process bodies for the tracking concurrency and crash tests (importable under spawn)."""

from __future__ import annotations

import os
from pathlib import Path


def _open(home: str, store_uri: str) -> object:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    overrides = {"store_uri": store_uri} if store_uri else {}
    # A small batch bound, so each process commits many transactions that contend for the store.
    return open_workspace(make_settings(Path(home), metric_batch_size=250, metric_flush_seconds=0.05, **overrides))


def log_points(home: str, store_uri: str, points: int, worker: int) -> tuple[str, str]:
    """Log ``points`` metric points through the background logger; return (run id, error text)."""
    ws = _open(home, store_uri)
    try:
        tracking = ws.tracking  # type: ignore[attr-defined]
        with tracking.start_run(f"worker-{worker}", experiment="contention") as run:
            tracking.log_params({"worker": worker})
            for step in range(points):
                tracking.log_metric("loss", 1.0 / (step + 1), step=step)
        return run.id, ""
    except Exception as err:  # the parent asserts on this text (e.g. "database is locked")
        return "", f"{type(err).__name__}: {err}"
    finally:
        ws.close()  # type: ignore[attr-defined]


def log_until_killed(home: str, progress_file: str, batch: int) -> None:
    """Log batches forever; after each flush, record the flushed count durably in ``progress_file``."""
    ws = _open(home, "")
    tracking = ws.tracking  # type: ignore[attr-defined]
    run = tracking.start_run("doomed", experiment="crash")
    flushed = 0
    while True:
        for step in range(flushed, flushed + batch):
            tracking.log_metric("loss", float(step), step=step)
        tracking.flush()
        flushed += batch
        with open(progress_file + ".tmp", "w") as handle:
            handle.write(f"{run.id} {flushed}")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(progress_file + ".tmp", progress_file)
