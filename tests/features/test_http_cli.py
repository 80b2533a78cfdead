"""Online lookups over the platform server's HTTP API, ``slipway features`` from the command line,
and the impact of a view on the runs that used its training sets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd

import slipway
from slipway.workspace import Workspace, open_workspace
from tests.features.pit_fixture import ENTITIES, t
from tests.support import make_settings, platform_server

Cli = Callable[..., tuple[int, str, str]]


def test_online_lookup_over_http_with_per_value_status(home: Path, repo: Path) -> None:
    settings = make_settings(home / "server")
    with platform_server(settings) as (url, token):
        ws = open_workspace(make_settings(home / "client", server_url=url, token=token))
        ws.features.apply(repo)
        [run] = ws.features.materialize(end=t(3, 10))
        assert run.rows == 2
        at = int(pd.Timestamp(t(3, 10)).timestamp() * 1000)
        headers = {"Authorization": f"Bearer {token}"}
        body = {"features": ["txn:amount_sum", "txn:txn_count"], "entities": [{"customer_id": 1}, {"customer_id": 2},
                                                                              {"customer_id": 9}], "at_ms": at}
        response = httpx.post(f"{url}/api/v1/features/online", json=body, headers=headers, timeout=60)
        assert response.status_code == 200
        answer = response.json()
        assert answer["values"] == {"amount_sum": [30.0, None, None], "txn_count": [4, None, None]}
        assert answer["status"]["amount_sum"] == ["present", "expired", "missing"]
        bad = httpx.post(f"{url}/api/v1/features/online", json={"features": ["txn"], "entities": [{"id": 1}]},
                         headers=headers, timeout=60)
        assert bad.status_code == 422 and "join key" in bad.json()["error"]["message"]
        same = ws.features.online("fraud", [{"customer_id": 1, "amount": 15.0}], at_ms=at)  # remote client, ODV here
        assert same.values == {"amount_sum": [30.0], "txn_count": [4], "amount_ratio": [0.5]}
        ws.close()



def test_the_features_commands(cli: Cli, repo: Path, tmp_path: Path) -> None:
    code, out, _ = cli("features", "plan", repo)
    assert code == 0 and "4 change(s) to apply" in out and "txn" in out
    code, out, _ = cli("features", "ls", "--json")
    assert code == 0 and json.loads(out) == []  # plan stored nothing
    assert cli("features", "apply", repo)[0] == 0
    code, out, _ = cli("features", "ls")
    assert code == 0 and "STALE" in out and "never" in out
    ENTITIES.assign(amount=1.0).to_parquet(tmp_path / "entities.parquet")
    code, out, _ = cli("features", "training-set", "fraud", tmp_path / "entities.parquet")
    assert code == 0 and "fraud-training@1: 8 rows" in out
    code, out, _ = cli("features", "materialize", "--end", "2024-01-03T10:00:00Z")
    assert code == 0 and "txn@1: 2 keys written" in out
    code, out, _ = cli("features", "online", "txn", "-e", '{"customer_id": 1}', "--json")
    assert code == 0 and json.loads(out)["status"]["amount_sum"] == ["expired"]  # 2024 is long past the 2-day TTL
    code, out, _ = cli("features", "show", "feature_view", "txn", "--json")
    assert code == 0 and json.loads(out)["spec"]["ttl_seconds"] == 172800
    (repo / "definitions.py").write_text((repo / "definitions.py").read_text().replace('ttl="2d"', 'ttl="soon"'))
    code, out, err = cli("features", "apply", repo)
    assert code == 2 and "not a duration" in err and "Traceback" not in err and len(err.strip().splitlines()) <= 3


def test_impact_lists_the_training_sets_and_runs_that_used_a_view(sqlite_ws: Workspace, repo: Path) -> None:
    ws = sqlite_ws
    ws.features.apply(repo)
    assert ws.features.impact("txn") == {}
    result = ws.features.training_set("fraud", ENTITIES.assign(amount=2.0))
    with slipway.start_run() as run:
        slipway.log_input(result.version)
    impact = ws.features.impact("txn")
    assert impact["dataset_version"] == ["fraud-training@1"] and impact["run"] == [run.id]


def test_the_standalone_feature_server_runs_on_demand_views(sqlite_ws: Workspace, repo: Path) -> None:
    from slipway.features.http import create_app
    from tests.support import ServerThread

    sqlite_ws.features.apply(repo)
    sqlite_ws.features.materialize(end=t(3, 10))
    at = int(pd.Timestamp(t(3, 10)).timestamp() * 1000)
    with ServerThread(create_app(sqlite_ws)) as server:
        answer = httpx.post(f"{server.url}/online", json={"features": "fraud", "at_ms": at,
                                                          "entities": [{"customer_id": 1, "amount": 90.0}]}, timeout=60)
        assert answer.status_code == 200
        assert answer.json()["values"] == {"amount_sum": [30.0], "txn_count": [4], "amount_ratio": [3.0]}
        bad = httpx.post(f"{server.url}/online", content=b"{", timeout=60)
        assert bad.status_code == 422 and "not JSON" in bad.json()["error"]["message"]
        unknown = httpx.post(f"{server.url}/online", json={"features": "nope", "entities": []}, timeout=60)
        assert unknown.status_code == 404
