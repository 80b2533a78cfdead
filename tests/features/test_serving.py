"""A deployment declaring a feature service, served for real on a loopback socket: the request
carries entity keys (and request data), the server looks the features up, runs the on-demand view,
feeds the model and logs keys and features; online equals the offline point-in-time join."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from slipway.core.errors import InvalidInput
from slipway.deploy.spec import parse_spec
from slipway.workspace import Workspace
from tests.serving.asgi import make_app, on_socket
from tests.serving.helpers import approve, register

# Times relative to the real clock, hours back: every value is well within the 30-day TTL at read time.
NOW = pd.Timestamp.now(tz="UTC").floor("s")

DEFINITIONS = '''
from slipway.features import Entity, FeatureService, FeatureView, Source, on_demand_view

customer = Entity("customer", join_keys=["customer_id"])
txn = FeatureView("txn", entities=[customer], source=Source.path("data/txn.parquet"), ttl="30d",
                  features={"amount_sum": "float64", "txn_count": "int64"})


@on_demand_view(sources=[txn], request={"amount": "float64"}, features={"amount_ratio": "float64"})
def amount_ratio(df):
    return pd.DataFrame({"amount_ratio": df["amount"] / df["amount_sum"]})


fraud = FeatureService("fraud", features=["txn", "amount_ratio"])
'''


def _repo(folder: Path) -> Path:
    rng = np.random.default_rng(7)
    rows = []
    for customer in range(1, 41):
        for step in range(5):  # five snapshots per customer over the last five days
            rows.append({"customer_id": customer, "event_timestamp": NOW - pd.Timedelta(hours=24 * step + customer),
                         "amount_sum": float(rng.integers(10, 500)), "txn_count": int(rng.integers(1, 50))})
    (folder / "data").mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(folder / "data" / "txn.parquet")
    (folder / "definitions.py").write_text(DEFINITIONS)
    return folder


@pytest.fixture
def served(home: Path, sqlite_ws: Workspace, tmp_path: Path) -> tuple[Workspace, pd.DataFrame, HistGradientBoostingRegressor]:
    """The repository applied, a model trained on its training set (as of NOW), approved, registered
    as ``spend``, and the view materialised up to NOW."""
    ws = sqlite_ws
    ws.features.apply(_repo(tmp_path / "repo"))
    entities = pd.DataFrame({"customer_id": list(range(1, 41)), "event_timestamp": [NOW] * 40,
                             "amount": [float(5 * i) for i in range(1, 41)]})
    train = ws.features.training_set("fraud", entities).to_pandas()
    columns = ["amount_sum", "txn_count", "amount_ratio"]
    train[columns] = train[columns].astype("float64")  # float inputs: a null (on_missing: null) is NaN
    label = train["amount_ratio"] * 3 + train["txn_count"]
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(train[columns], label)
    version = register(ws, model, "spend", train[columns].head(5))
    approve(home, ws, f"spend/{version}")
    [run] = ws.features.materialize(end=NOW.to_pydatetime())
    assert run.rows == 40
    return ws, train, model


def test_a_deployment_with_a_feature_service_serves_the_offline_values(served) -> None:
    ws, train, model = served
    ws.serving.apply({"name": "spend-prod", "variants": [{"name": "stable", "model": "spend/1"}],
                      "features": {"service": "fraud"}})
    asked = [3, 17, 40]
    with on_socket(make_app(ws, deployment="spend-prod")) as url:
        records = [{"customer_id": c, "amount": float(5 * c)} for c in asked]
        answer = httpx.post(f"{url}/invocations", json={"dataframe_records": records}, timeout=60)
        assert answer.status_code == 200, answer.text
        offline = train.set_index("customer_id").loc[asked]
        expected = model.predict(offline[["amount_sum", "txn_count", "amount_ratio"]])
        assert np.allclose(answer.json()["predictions"], expected)
        v1 = httpx.post(f"{url}/v1/models/spend-prod:predict", json={"instances": records[:1]}, timeout=60)
        assert v1.status_code == 200 and np.isclose(v1.json()["predictions"][0], expected[0])

        unknown = httpx.post(f"{url}/invocations", json={"dataframe_records": [{"customer_id": 999, "amount": 1.0}]},
                             timeout=60)
        assert unknown.status_code == 422
        assert "'amount_sum' is missing" in unknown.json()["error"] and "999" in unknown.json()["error"]
        no_key = httpx.post(f"{url}/invocations", json={"dataframe_records": [{"amount": 1.0}]}, timeout=60)
        assert no_key.status_code == 400 and "customer_id" in no_key.json()["error"]
    log = ws.serving.payload_log("spend-prod").to_pandas()
    ok = log[log["status"] == 200].sort_values(["ts_ms", "row"]).head(3)
    assert ok["input.customer_id"].tolist() == asked
    # What the model saw, exactly as the offline point-in-time join gives it for the same time.
    assert ok["input.amount_sum"].tolist() == offline["amount_sum"].tolist()
    assert ok["input.txn_count"].tolist() == offline["txn_count"].tolist()
    assert np.allclose(ok["input.amount_ratio"], offline["amount_ratio"])
    assert np.allclose(ok["output"], expected)


def test_on_missing_null_gives_the_model_a_null(served) -> None:
    ws, _, model = served
    ws.serving.apply({"name": "spend-lenient", "variants": [{"name": "stable", "model": "spend/1"}],
                      "features": {"service": "fraud", "on_missing": "null"}})
    with on_socket(make_app(ws, deployment="spend-lenient")) as url:
        answer = httpx.post(f"{url}/invocations", json={"dataframe_records": [{"customer_id": 999, "amount": 1.0}]},
                            timeout=60)
    assert answer.status_code == 200, answer.text
    nothing = pd.DataFrame({"amount_sum": [np.nan], "txn_count": [np.nan], "amount_ratio": [np.nan]})
    assert np.isclose(answer.json()["predictions"][0], model.predict(nothing)[0])


def test_the_features_table_of_a_deployment_spec_is_checked() -> None:
    base = {"name": "d", "variants": [{"name": "stable", "model": "m/1"}]}
    assert "features" not in parse_spec(base)
    assert parse_spec({**base, "features": "fraud"})["features"] == {"service": "fraud", "on_missing": "reject"}
    with pytest.raises(InvalidInput, match="on_missing"):
        parse_spec({**base, "features": {"service": "fraud", "on_missing": "guess"}})
    with pytest.raises(InvalidInput, match="unknown key 'servce'"):
        parse_spec({**base, "features": {"servce": "fraud"}})


def test_a_deployment_naming_an_unknown_service_does_not_serve(sqlite_ws: Workspace) -> None:
    from slipway.core.errors import NotFound
    from slipway.serving.features import FeatureLookup

    with pytest.raises(NotFound):
        FeatureLookup(sqlite_ws, "nope")
