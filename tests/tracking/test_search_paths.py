"""The "top N by a metric" page query returns exactly what the full query returns, page by page,
and PostgreSQL's planner is given the statistics it needs to pick the right plan for it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.core.settings import load_settings
from slipway.tracking import search_runs as search_module
from slipway.workspace import Workspace, open_workspace


def _seed(ws: Workspace) -> Workspace:
    rnd = random.Random(7)
    tracking = ws.tracking
    for i in range(40):
        run = tracking.start_run(f"r{i}", experiment="paths")
        points = [("auc", round(rnd.random(), 1), 0, 1)]  # rounded: many ties, ordered by the tie-breakers
        if i % 7 == 0:
            points = [("auc", "NaN", 0, 1)]
        elif i % 11 == 0:
            points = []
        tracking.log_batch(run.id, metrics=points, params={"model": rnd.choice(["rf", "gb"])})
        tracking.end_run()
    return ws


@pytest.fixture(params=["sqlite", "postgres"])
def seeded(request: pytest.FixtureRequest, sqlite_ws: Workspace, home: Path) -> Iterator[Workspace]:
    if request.param == "sqlite":
        yield _seed(sqlite_ws)
        return
    ws = open_workspace(
        load_settings(
            home=home / "pg",
            store_uri=request.getfixturevalue("pg_uri"),
            artifacts_uri=str(home / "pg-artifacts"),
            server_url="",
            token="",
            user="",
        )
    )
    yield _seed(ws)
    ws.close()


def _all_pages(ws: Workspace, filter: str, order: list[str], size: int) -> list[str]:
    seen, token = [], None
    while True:
        page = ws.tracking.search_runs(filter, ["paths"], order, size, token)
        seen += [r.id for r in page.runs]
        token = page.next_token
        if not token:
            return seen


@pytest.mark.parametrize("filter", ["", "params.model = 'rf'", "metrics.auc > 0.3 or params.model = 'gb'"])
@pytest.mark.parametrize(
    "order",
    [
        ["metrics.auc DESC"],
        ["metrics.auc", "params.model DESC"],
        ["metrics.auc DESC", "attributes.start_time", "params.model"],
    ],
)
def test_top_by_metric_matches_full_query(
    seeded: Workspace, monkeypatch: pytest.MonkeyPatch, filter: str, order: list[str]
) -> None:
    answered = {"top": 0, "full": 0}
    original = search_module._top_by_metric

    def counting(*args: object, **kwargs: object) -> object:
        result = original(*args, **kwargs)  # type: ignore[arg-type]
        answered["top" if result is not None else "full"] += 1
        return result

    monkeypatch.setattr(search_module, "_top_by_metric", counting)
    for size in (1, 6, 100):
        fast = _all_pages(seeded, filter, order, size)
        with monkeypatch.context() as full_only:
            full_only.setattr(search_module, "_top_by_metric", lambda *args, **kwargs: None)
            full = _all_pages(seeded, filter, order, size)
        assert fast == full
        assert len(full) == len(set(full)) and len(full) == len(
            seeded.tracking.search_runs(filter, ["paths"], max_results=1000).runs
        )
    assert answered["top"] > 0  # the metric's page query really answered some pages
    assert answered["full"] > 0  # and the pages reaching NaN or missing values went to the full query


def test_sqlite_leaves_a_long_walk_to_the_full_query(
    sqlite_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _seed(sqlite_ws)
    tried = {"top": 0}
    original = search_module._top_by_metric

    def counting(*args: object, **kwargs: object) -> object:
        tried["top"] += 1
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(search_module, "_top_by_metric", counting)
    monkeypatch.setattr(search_module, "SQLITE_SAMPLE", 10)
    rf = _all_pages(ws, "params.model = 'rf'", ["metrics.auc DESC"], 5)
    assert tried["top"] > 0  # a filter matching about half the runs walks the metric's index
    tried["top"] = 0
    assert _all_pages(ws, "params.model = 'nothing'", ["metrics.auc DESC"], 5) == []
    monkeypatch.setattr(search_module, "SQLITE_WALK_CEILING", 10)  # 10 entries cannot give 6 rows of 'rf'
    assert _all_pages(ws, "params.model = 'rf'", ["metrics.auc DESC"], 5) == rf
    assert tried["top"] == 0  # none of the sample matched, then the walk would be too long: the full query
