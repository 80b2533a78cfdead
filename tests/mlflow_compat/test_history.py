"""``metrics/get-history-bulk-interval`` (what MLflow's UI charts call) samples like MLflow's own store."""

from __future__ import annotations

import httpx
import pytest

from tests.mlflow_compat.conftest import MlflowServer

pytestmark = pytest.mark.slow


def test_bulk_interval_samples_steps_like_mlflow(mlflow_server: MlflowServer) -> None:
    ws = mlflow_server.workspace()
    run_ids = []
    for offset in (0.0, 1.0):
        run = ws.tracking.start_run(experiment="charts")
        ws.tracking.log_batch(run.id, [("loss", offset + s / 1000, s, 1_000 + s) for s in range(1000)])
        ws.tracking.end_run(run.id)
        run_ids.append(run.id)
    url = f"{mlflow_server.url}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
    headers = {"Authorization": f"Bearer {mlflow_server.token}"}

    answer = httpx.get(url, params={"run_ids": run_ids, "metric_key": "loss", "max_results": 10}, headers=headers)
    assert answer.status_code == 200, answer.text
    points = answer.json()["metrics"]
    expected_steps = [*range(0, 1000, 100), 999]  # MLflow's sampling: every 100th step plus the last
    for offset, run_id in zip((0.0, 1.0), run_ids, strict=True):
        mine = [p for p in points if p["run_id"] == run_id]
        assert [p["step"] for p in mine] == expected_steps
        assert [p["value"] for p in mine] == [offset + s / 1000 for s in expected_steps]
        assert [p["timestamp"] for p in mine] == [1_000 + s for s in expected_steps]

    window = httpx.get(url, params={"run_ids": run_ids[0], "metric_key": "loss", "start_step": 100, "end_step": 104},
                       headers=headers).json()["metrics"]
    assert [p["step"] for p in window] == [100, 101, 102, 103, 104]

    for bad in ({"run_ids": run_ids, "metric_key": "loss", "start_step": 5},
                {"run_ids": run_ids, "metric_key": "loss", "start_step": 9, "end_step": 1},
                {"run_ids": run_ids, "metric_key": "loss", "max_results": 0},
                {"metric_key": "loss"}):
        refused = httpx.get(url, params=bad, headers=headers)
        assert refused.status_code == 400 and refused.json()["error_code"] == "INVALID_PARAMETER_VALUE", bad
    unknown = httpx.get(url, params={"run_ids": ["0" * 32], "metric_key": "loss"}, headers=headers)
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_get_history_pages_through_the_whole_series(mlflow_server: MlflowServer) -> None:
    """``metrics/get-history`` pages (as the client asks, 25,000 points a page) read one page each."""
    ws = mlflow_server.workspace()
    run = ws.tracking.start_run(experiment="pages")
    ws.tracking.log_batch(run.id, [("loss", s / 10, s, 1_000 + s) for s in range(7)])
    ws.tracking.end_run(run.id)
    url = f"{mlflow_server.url}/api/2.0/mlflow/metrics/get-history"
    headers = {"Authorization": f"Bearer {mlflow_server.token}"}
    steps, tokens, token = [], [], None
    while True:
        params = {"run_id": run.id, "metric_key": "loss", "max_results": 3, **({"page_token": token} if token else {})}
        answer = httpx.get(url, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        steps += [p["step"] for p in answer.json()["metrics"]]
        token = answer.json().get("next_page_token")
        if not token:
            break
        tokens.append(token)
    assert steps == list(range(7)) and len(set(tokens)) == 2  # keyset tokens, opaque to the client
    # a token from before keyset tokens (an offset) still works, and hands on a keyset token
    old = httpx.get(url, params={"run_id": run.id, "metric_key": "loss", "max_results": 3, "page_token": "3"},
                    headers=headers).json()
    assert [p["step"] for p in old["metrics"]] == [3, 4, 5] and old["next_page_token"] == tokens[1]
    whole = httpx.get(url, params={"run_id": run.id, "metric_key": "loss"}, headers=headers).json()
    assert [p["step"] for p in whole["metrics"]] == list(range(7)) and "next_page_token" not in whole
    for token in ("-3", "not-a-token"):
        bad = httpx.get(url, params={"run_id": run.id, "metric_key": "loss", "page_token": token}, headers=headers)
        assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE", token
