"""``get_metric_series``: a metric's history downsampled to the minimum and maximum of each step
bucket, read from the ``metric_buckets`` summary kept as points are logged; the same answer as a
pass over every point, on SQLite, PostgreSQL and through the server."""

from __future__ import annotations

import importlib.util
import math
import random
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text

from slipway.core.errors import InvalidInput, NotFound
from slipway.store.migrate import MIGRATIONS
from slipway.store.schema.tracking import metric_buckets
from slipway.tracking.metric_buckets import WIDTHS, bucket_rows
from slipway.workspace import Workspace

Point = tuple[int, float, int]  # step, value (NaN for a NaN point), ts


def _series(ws: Workspace, run_id: str, key: str, **kwargs: object) -> dict[str, Any]:
    return ws._transport.backend("tracking").get_metric_series(run_id, key, **kwargs)  # type: ignore[no-any-return]


def expected(points: list[Point], max_points: int, low: int | None = None, high: int | None = None) -> dict[str, Any]:
    """The documented answer, from every point: buckets of W steps aligned on multiples of W, where
    W is the smallest multiple, at least S / (B - 1), of the widest power of 16 (16 … 16**4) not
    above twice that."""
    kept = [(s, v, t) for s, v, t in points if not math.isnan(v)
            and (low is None or s >= low) and (high is None or s <= high)]
    if len(kept) <= max_points:
        kept.sort(key=lambda p: (p[0], p[2]))  # stable: ties keep the logging order, as the ids do
        return {"total": len(kept), "downsampled": False, "steps": [p[0] for p in kept],
                "values": [p[1] for p in kept], "timestamps": [p[2] for p in kept]}
    buckets = max_points // 2
    first, last = min(p[0] for p in kept), max(p[0] for p in kept)
    if buckets == 1:
        width = 2**70
    else:
        least = -(-(last - first + 1) // (buckets - 1))
        powers = [w for w in WIDTHS if w <= 2 * least]
        width = powers[-1] * -(-least // powers[-1]) if powers else least
    groups: dict[int, list[Point]] = {}
    for p in kept:
        groups.setdefault(p[0] // width if buckets > 1 else 0, []).append(p)
    steps, values, times = [], [], []
    for _, group in sorted(groups.items()):
        s0, s1 = min(p[0] for p in group), max(p[0] for p in group)
        lo, hi = min(p[1] for p in group), max(p[1] for p in group)
        steps.append(s0), values.append(lo), times.append(min(p[2] for p in group))
        if s1 != s0 or hi != lo:
            steps.append(s1), values.append(hi), times.append(max(p[2] for p in group))
    return {"total": len(kept), "downsampled": True, "steps": steps, "values": values, "timestamps": times}


def _same(answer: dict[str, Any], wanted: dict[str, Any]) -> None:
    assert {k: answer[k] for k in wanted} == wanted


def test_a_long_series_comes_back_as_bucket_extremes(workspace: Workspace) -> None:
    values = [math.sin(step / 300) for step in range(10_000)]
    values[4321] = 9.0  # one spike
    values[777] = -9.0  # one dip
    points: list[Point] = [(s, values[s], 1_000 + s) for s in range(10_000)]
    with workspace.tracking.start_run("wave", experiment="series") as run:
        for start in range(0, 10_000, 5_000):
            workspace.tracking.log_batch(run.id, [("wave", v, s, t) for s, v, t in points[start:start + 5_000]])
        workspace.tracking.log_batch(run.id, [("wave", "NaN", 10_000, 20_000)])
    series = _series(workspace, run.id, "wave", max_points=500)
    assert series["total"] == 10_000 and series["downsampled"]  # the NaN point is not drawn
    assert 400 <= len(series["steps"]) <= 500 and series["steps"] == sorted(series["steps"])
    assert max(series["values"]) == 9.0 and min(series["values"]) == -9.0
    assert series["steps"][0] == 0 and series["steps"][-1] == 9_999 and series["timestamps"][0] == 1_000
    # S = 10,000 steps in at most 250 buckets: W = 48 (3 x 16), each gives its extremes at its first and last step.
    assert series["values"][:2] == [min(values[:48]), max(values[:48])] and series["steps"][:2] == [0, 47]
    # 40 buckets: W at least 257, a multiple of 256 (the widest not above 514): 512, so 20 buckets.
    assert len(_series(workspace, run.id, "wave", max_points=80)["steps"]) == 40
    _same(series, expected(points, 500))

    workspace.tracking.log_batch(run.id, [("wave", 5.0, 10_001, 30_000)])  # a newer point is in the next answer
    grown = _series(workspace, run.id, "wave", max_points=500)
    assert grown["total"] == 10_001 and grown["steps"][-1] == 10_001 and 5.0 in grown["values"]
    workspace.tracking.log_batch(run.id, [("wave", -20.0, 5_000, 40_000)])  # an older step, logged late
    assert min(_series(workspace, run.id, "wave", max_points=500)["values"]) == -20.0

    whole = _series(workspace, run.id, "wave", max_points=500, min_step=4_300, max_step=4_349)
    assert not whole["downsampled"] and whole["steps"] == list(range(4_300, 4_350))
    assert whole["values"] == values[4_300:4_350]
    assert _series(workspace, run.id, "absent")["total"] == 0
    with pytest.raises(InvalidInput, match="max_points"):
        _series(workspace, run.id, "wave", max_points=1)
    with pytest.raises(NotFound):
        _series(workspace, "no-such-run", "wave")


def test_any_range_of_any_series_matches_a_pass_over_every_point(workspace: Workspace) -> None:
    """Negative and sparse steps, repeated steps, NaN, points logged out of order in many batches,
    and zoomed ranges whose ends fall anywhere inside the summary's buckets."""
    rng = random.Random(19)
    points: list[Point] = []
    for _ in range(3_000):
        step = rng.choice([rng.randint(-5_000, 70_000), rng.randint(0, 300), rng.randint(-2**40, 2**40)])
        value = math.nan if rng.random() < 0.02 else rng.choice([rng.gauss(0, 1), rng.random(), float(rng.randint(-3, 3))])
        points.append((step, value, rng.randint(0, 10**6)))
    points += [(123, float(i), 7) for i in range(50)]  # one step, many points
    with workspace.tracking.start_run("random", experiment="series") as run:
        for start in range(0, len(points), 700):
            workspace.tracking.log_batch(run.id, [("r", "NaN" if math.isnan(v) else v, s, t)
                                                  for s, v, t in points[start:start + 700]])
    for max_points in (2, 3, 40, 500, 5_000):
        _same(_series(workspace, run.id, "r", max_points=max_points), expected(points, max_points))
    for _ in range(25):
        low = rng.choice([rng.randint(-6_000, 71_000), rng.randint(-2**41, 2**41)])
        high = low + rng.choice([rng.randint(0, 40), rng.randint(0, 80_000), rng.randint(0, 2**42)])
        max_points = rng.choice([2, 10, 100, 600])
        _same(_series(workspace, run.id, "r", max_points=max_points, min_step=low, max_step=high),
              expected(points, max_points, low, high))


def _migration() -> Any:
    path = next((MIGRATIONS / "versions").glob("0023_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0023", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_summarises_stored_points_as_logging_does(sqlite_ws: Workspace) -> None:
    """A store upgraded with points already in it gets the rows that logging them would have kept."""
    rng = random.Random(23)
    ws = sqlite_ws
    with ws.tracking.start_run("old", experiment="series") as run:
        for _ in range(4):
            ws.tracking.log_batch(run.id, [("m", "NaN" if rng.random() < 0.05 else rng.random(),
                                            rng.randint(-70_000, 2_000_000), rng.randint(0, 10**9)) for _ in range(500)])
    db = ws._transport.ctx.db
    columns = [c for c in metric_buckets.c]
    with db.read() as conn:
        kept = sorted(tuple(r) for r in conn.execute(select(*columns)))
    assert {r[2] for r in kept} == set(WIDTHS)
    with db.write() as conn:
        conn.execute(delete(metric_buckets))
        for statement in _migration().backfill_statements():
            conn.execute(text(statement))
    with db.read() as conn:
        assert sorted(tuple(r) for r in conn.execute(select(*columns))) == kept
        assert conn.execute(select(func.count()).select_from(metric_buckets)).scalar_one() == len(kept)
    assert _migration().WIDTHS == WIDTHS


def test_a_batch_is_summarised_per_width() -> None:
    rows = [("r", "k", step, 100 + step, float(step % 7), False) for step in range(-20, 40)] + [("r", "k", 5, 1, 0.0, True)]
    summary = {(r[2], r[3]): r[4:] for r in bucket_rows(rows)}
    assert summary[(16, -2)] == (4, -20, -17, 1.0, 4.0, 80, 83)  # floor(-20 / 16) = -2
    assert summary[(16, 0)][0] == 16  # the NaN point at step 5 is left out
    assert summary[(256, -1)] == (20, -20, -1, 0.0, 6.0, 80, 99) and summary[(256, 0)][:3] == (40, 0, 39)
    assert summary[(16**4, 0)][0] == 40 and len([w for w, _ in summary if w == 16**4]) == 2
