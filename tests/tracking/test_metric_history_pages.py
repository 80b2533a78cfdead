"""``get_metric_history_page``: a metric's raw points a page at a time, continued by keyset (the last
``(step, ts, id)`` seen), on SQLite, PostgreSQL and through the server; and the index that serves it."""

from __future__ import annotations

import base64
import math
import random

import pytest
from sqlalchemy import text

from slipway.core.errors import InvalidInput, NotFound
from slipway.tracking.records import Metric
from slipway.workspace import Workspace


def _pages(ws: Workspace, run_id: str, key: str, limit: int, **bounds: int) -> list[list[Metric]]:
    pages, token = [], None
    while True:
        page = ws.tracking.get_metric_history_page(run_id, key, limit=limit, page_token=token, **bounds)
        pages.append(page.metrics)
        token = page.next_token
        if token is None:
            return pages


def _steps(points: list[Metric]) -> list[tuple[int, int, float]]:
    return [(m.step, m.ts, m.value) for m in points]


def test_pages_cover_the_series_once_in_order_with_ties_at_one_step(workspace: Workspace) -> None:
    run = workspace.tracking.start_run(experiment="pages")
    rng = random.Random(7)
    # Many points per step (MLflow logs step 0 when none is given), equal timestamps too, and
    # logged out of order: pages must still follow (step, ts, insertion) and never split a tie
    # into a repeat or a gap.
    points = [("loss", float(i), rng.randrange(6), 1_000 + rng.randrange(3)) for i in range(97)]
    points += [("loss", math.nan, 2, 1_001), ("other", 5.0, 1, 1_000)]
    workspace.tracking.log_batch(run.id, points)
    whole = workspace.tracking.get_metric_history(run.id, "loss")
    assert len(whole) == 98

    for limit in (1, 7, 10, 98, 500):
        pages = _pages(workspace, run.id, "loss", limit)
        assert all(len(p) == limit for p in pages[:-1]) and 0 < len(pages[-1]) <= limit
        flat = [m for p in pages for m in p]
        assert [m.key for m in flat] == ["loss"] * 98
        # NaN compares unequal, so compare its position and the rest by value
        assert [(m.step, m.ts) for m in flat] == [(m.step, m.ts) for m in whole]
        assert [m.value for m in flat if not math.isnan(m.value)] == [
            m.value for m in whole if not math.isnan(m.value)
        ]
        assert [i for i, m in enumerate(flat) if math.isnan(m.value)] == [
            i for i, m in enumerate(whole) if math.isnan(m.value)
        ]
    # the offset form agrees with the pages (it is the old API and stays)
    assert _steps(workspace.tracking.get_metric_history_page(run.id, "loss", limit=10).metrics)[3:] == _steps(
        workspace.backend("tracking").get_metric_history(run.id, "loss", 3, 7)
    )


def test_step_bounds_and_a_page_from_the_middle(workspace: Workspace) -> None:
    run = workspace.tracking.start_run(experiment="pages")
    workspace.tracking.log_batch(
        run.id, [("acc", s / 100, s, 5_000 + s) for s in range(300)] + [("acc", 9.0, 150, 4_000)]
    )  # earlier timestamp at step 150: first of its step
    pages = _pages(workspace, run.id, "acc", 40, min_step=150, max_step=219)
    assert [len(p) for p in pages] == [40, 31]
    flat = [m for p in pages for m in p]
    assert [(m.step, m.ts) for m in flat[:2]] == [(150, 4_000), (150, 5_150)]
    assert [m.step for m in flat[2:]] == list(range(151, 220))
    exact = workspace.tracking.get_metric_history_page(run.id, "acc", limit=71, min_step=150, max_step=219)
    assert len(exact.metrics) == 71 and exact.next_token is None  # nothing follows inside the bounds
    empty = workspace.tracking.get_metric_history_page(run.id, "nothing")
    assert empty.metrics == [] and empty.next_token is None


def test_bad_requests_are_refused(workspace: Workspace) -> None:
    run = workspace.tracking.start_run(experiment="pages")
    workspace.tracking.log_batch(run.id, [("loss", 1.0, s, 1_000) for s in range(3)])
    page = workspace.tracking.get_metric_history_page
    forged = base64.urlsafe_b64encode(b'{"s": "x", "t": 1, "i": 1}').decode()
    for token in ("3", "not a token", forged):
        with pytest.raises(InvalidInput, match="not a metric history token"):
            page(run.id, "loss", page_token=token)
    for kwargs in ({"limit": 0}, {"limit": True}, {"min_step": 1.5}, {"max_step": "9"}):
        with pytest.raises(InvalidInput):
            page(run.id, "loss", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        page("0" * 32, "loss")


def test_a_page_seeks_through_the_index(sqlite_ws: Workspace) -> None:
    """The continuation is an index seek on (run_id, key, step, ts, id), not a scan or a sort."""
    run = sqlite_ws.tracking.start_run(experiment="plan")
    sqlite_ws.tracking.log_batch(run.id, [("loss", 1.0, s, 1_000) for s in range(3)])
    with sqlite_ws._transport.ctx.db.read() as conn:  # type: ignore[attr-defined]
        plan = " ".join(
            str(row[-1])
            for row in conn.execute(
                text(
                    'EXPLAIN QUERY PLAN SELECT value, is_nan, step, ts, id FROM metrics WHERE run_id = :r AND "key" = :k '
                    "AND (step, ts, id) > (:s, :t, :i) ORDER BY step, ts, id LIMIT 10"
                ),
                {"r": run.id, "k": "loss", "s": 1, "t": 1_000, "i": 0},
            )
        )
    # SQLite seeks on (step, ts) and checks the id of the points tied at that position
    assert "ix_metrics_run_key_step_ts_id" in plan and "(step,ts" in plan.replace(" ", "")
    assert "TEMP B-TREE" not in plan
