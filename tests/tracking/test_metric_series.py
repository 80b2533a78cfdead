"""``get_metric_series``: a metric's history downsampled in SQL to the minimum and maximum of
each step bucket, the same on SQLite, PostgreSQL and through the server."""

from __future__ import annotations

import math

import pytest

from slipway.core.errors import InvalidInput, NotFound
from slipway.workspace import Workspace


def _series(ws: Workspace, run_id: str, key: str, **kwargs: object) -> dict:  # type: ignore[type-arg]
    return ws._transport.backend("tracking").get_metric_series(run_id, key, **kwargs)  # type: ignore[no-any-return]


def test_a_long_series_comes_back_as_bucket_extremes(workspace: Workspace) -> None:
    values = [math.sin(step / 300) for step in range(10_000)]
    values[4321] = 9.0  # one spike
    values[777] = -9.0  # one dip
    with workspace.tracking.start_run("wave", experiment="series") as run:
        for start in range(0, 10_000, 5_000):
            workspace.tracking.log_batch(run.id, [("wave", values[s], s, 1_000 + s) for s in range(start, start + 5_000)])
        workspace.tracking.log_batch(run.id, [("wave", "NaN", 10_000, 20_000)])
    series = _series(workspace, run.id, "wave", max_points=500)
    assert series["total"] == 10_000 and series["downsampled"]  # the NaN point is not drawn
    assert 400 <= len(series["steps"]) <= 500 and series["steps"] == sorted(series["steps"])
    assert max(series["values"]) == 9.0 and min(series["values"]) == -9.0
    assert series["steps"][0] == 0 and series["steps"][-1] == 9_999 and series["timestamps"][0] == 1_000
    # 250 buckets of 40 steps; each gives its extremes, at its first and last step.
    assert series["values"][:2] == [min(values[:40]), max(values[:40])] and series["steps"][:2] == [0, 39]

    workspace.tracking.log_batch(run.id, [("wave", 5.0, 10_001, 30_000)])  # a newer point: not served from cache
    grown = _series(workspace, run.id, "wave", max_points=500)
    assert grown["total"] == 10_001 and grown["steps"][-1] == 10_001 and 5.0 in grown["values"]

    whole = _series(workspace, run.id, "wave", max_points=500, min_step=4_300, max_step=4_349)
    assert not whole["downsampled"] and whole["steps"] == list(range(4_300, 4_350))
    assert whole["values"] == values[4_300:4_350]
    assert _series(workspace, run.id, "absent")["total"] == 0
    with pytest.raises(InvalidInput, match="max_points"):
        _series(workspace, run.id, "wave", max_points=1)
    with pytest.raises(NotFound):
        _series(workspace, "no-such-run", "wave")
