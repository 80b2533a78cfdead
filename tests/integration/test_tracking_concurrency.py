"""Many processes logging into one store at once lose nothing and never see "database is locked"."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from slipway.workspace import open_workspace
from tests.integration.tracking_workers import log_points
from tests.support import make_settings

POINTS = 2000


def _run_workers(home: Path, store_uri: str, processes: int) -> list[tuple[str, str]]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        return pool.starmap(log_points, [(str(home), store_uri, POINTS, i) for i in range(processes)])


def _check(home: Path, store_uri: str, results: list[tuple[str, str]], processes: int) -> None:
    errors = [error for _, error in results if error]
    assert errors == [], errors
    overrides = {"store_uri": store_uri} if store_uri else {}
    ws = open_workspace(make_settings(home, **overrides))
    try:
        backend = ws.backend("tracking")
        run_ids = [run_id for run_id, _ in results]
        assert len(set(run_ids)) == processes
        for run_id in run_ids:
            assert backend.count_metric_points(run_id) == POINTS
            history = backend.get_metric_history(run_id, "loss")
            assert [m.step for m in history] == list(range(POINTS))
            assert ws.tracking.get_run(run_id).status == "FINISHED"
        assert len(ws.tracking.search_runs("", ["contention"], max_results=100).runs) == processes
        assert ws.audit.verify().ok
    finally:
        ws.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_eight_processes_into_sqlite(home: Path) -> None:
    # The store is created by the first writers themselves: cold start is part of the contention.
    results = _run_workers(home, "", 8)
    _check(home, "", results, 8)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_sixteen_processes_into_postgres(home: Path, pg_uri: str) -> None:
    results = _run_workers(home, pg_uri, 16)
    _check(home, pg_uri, results, 16)
