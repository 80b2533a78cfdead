"""The "top N by a metric" fast path returns exactly what the full query returns, page by page."""

from __future__ import annotations

import random

import pytest

from slipway.tracking import search_runs as search_module
from slipway.workspace import Workspace


@pytest.fixture
def seeded(sqlite_ws: Workspace) -> Workspace:
    rnd = random.Random(7)
    tracking = sqlite_ws.tracking
    for i in range(40):
        run = tracking.start_run(f"r{i}", experiment="paths")
        points = [("auc", round(rnd.random(), 1), 0, 1)]  # rounded: many ties at the budget boundary
        if i % 7 == 0:
            points = [("auc", "NaN", 0, 1)]
        elif i % 11 == 0:
            points = []
        tracking.log_batch(run.id, metrics=points, params={"model": rnd.choice(["rf", "gb"])})
        tracking.end_run()
    return sqlite_ws


def _all_pages(ws: Workspace, filter: str, order: list[str], size: int) -> list[str]:
    seen, token = [], None
    while True:
        page = ws.tracking.search_runs(filter, ["paths"], order, size, token)
        seen += [r.id for r in page.runs]
        token = page.next_token
        if not token:
            return seen


@pytest.mark.parametrize("filter", ["", "params.model = 'rf'", "metrics.auc > 0.3 or params.model = 'gb'"])
@pytest.mark.parametrize("order", [["metrics.auc DESC"], ["metrics.auc", "params.model DESC"]])
def test_fast_path_matches_full_query(seeded: Workspace, monkeypatch: pytest.MonkeyPatch, filter: str,
                                      order: list[str]) -> None:
    used = {"fast": 0}
    original = search_module._top_by_metric

    def counting(*args: object, **kwargs: object) -> object:
        result = original(*args, **kwargs)  # type: ignore[arg-type]
        used["fast"] += result is not None
        return result

    monkeypatch.setattr(search_module, "_top_by_metric", counting)
    monkeypatch.setattr(search_module, "FAST_PATH_CEILING", 1000)
    monkeypatch.setattr(search_module, "FAST_PATH_SHARE", 0)  # 40 runs: any budget is a large share of them
    for sample, safety in ((3, 0.5), (5, 1.3), (1000, 1.3)):  # small samples and margins force the
        monkeypatch.setattr(search_module, "FAST_PATH_SAMPLE", sample)  # boundary checks and fallbacks
        monkeypatch.setattr(search_module, "FAST_PATH_SAFETY", safety)
        for size in (1, 6):
            fast = _all_pages(seeded, filter, order, size)
            monkeypatch.setattr(search_module, "FAST_PATH_MAX", 0)  # the full query only
            full = _all_pages(seeded, filter, order, size)
            monkeypatch.setattr(search_module, "FAST_PATH_MAX", 10_000)
            assert fast == full
            assert len(full) == len(set(full)) and len(full) == len(seeded.tracking.search_runs(
                filter, ["paths"], max_results=1000).runs)
    assert used["fast"] > 0  # the fast path really answered some pages


def test_fast_path_is_left_when_its_candidates_would_be_a_large_share_of_the_metric(
        seeded: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    tried = {"fast": 0}
    original = search_module._top_by_metric

    def counting(*args: object, **kwargs: object) -> object:
        tried["fast"] += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(search_module, "_top_by_metric", counting)
    monkeypatch.setattr(search_module, "FAST_PATH_SAMPLE", 3)  # a budget above the sample: the share rule applies
    full = _all_pages(seeded, "params.model = 'rf'", ["metrics.auc DESC"], 2)
    assert tried["fast"] == 0  # 40 runs: every budget over 3 is more than a twentieth of them
    monkeypatch.setattr(search_module, "FAST_PATH_SHARE", 0)
    assert _all_pages(seeded, "params.model = 'rf'", ["metrics.auc DESC"], 2) == full
    assert tried["fast"] > 0


def test_population_check_counts_at_most_what_it_compares(seeded: Workspace) -> None:
    from slipway.tracking.search_sql import metric_population_query

    with seeded.backend("tracking").ctx.db.read() as conn:
        everything = conn.execute(metric_population_query("auc", 1000)).scalar_one()
        assert everything == 40 - 6 - 3  # NaN (i % 7 == 0: 6 runs) and missing (i % 11 == 0, not % 7: 3 runs) left out
        assert conn.execute(metric_population_query("auc", 5)).scalar_one() == 5
        assert conn.execute(metric_population_query("nothing", 5)).scalar_one() == 0
