"""What users' clients call (issue 14.13): KServe v1 readiness and liveness, MLflow's /health and
/version, text/csv on /invocations, class probabilities through v2 outputs and /invocations
params, and the governance policy for serving an unapproved version."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import orjson
import pytest

import slipway
from slipway.core.errors import Conflict
from slipway.serving.model import served_from_object
from slipway.serving.options import ServeOptions
from tests.serving.asgi import FAST, in_process, make_app, on_socket
from tests.serving.helpers import FEATURES, register, train_pipeline
from tests.serving.model_classes import TorqueThreshold

ROOT = Path(__file__).resolve().parents[2]


def test_kserve_v1_and_mlflow_health_paths(champion_ws) -> None:
    ws, _ = champion_ws
    with on_socket(make_app(ws, model_ref="ai4i@champion")) as url:
        assert httpx.get(f"{url}/").json() == {"status": "alive"}
        assert httpx.get(f"{url}/v1/models").json() == {"models": ["ai4i"]}
        assert httpx.get(f"{url}/v1/models/ai4i").json() == {"name": "ai4i", "ready": True}
        unknown = httpx.get(f"{url}/v1/models/nope")
        assert unknown.status_code == 404 and "'nope'" in unknown.json()["error"]
        assert httpx.get(f"{url}/health").status_code == 200
        assert httpx.get(f"{url}/ping").status_code == 200
        version = httpx.get(f"{url}/version")
        assert version.status_code == 200 and version.text == slipway.__version__


def test_text_csv_on_invocations(champion_ws, ai4i_data) -> None:
    ws, pipeline = champion_ws
    features, _ = ai4i_data
    rows = features.iloc[40:52]
    csv = rows.to_csv(index=False).encode()

    async def scenario() -> None:
        async with in_process(make_app(ws, model_ref="ai4i@champion")) as client:
            answer = await client.post("/invocations", content=csv, headers={"content-type": "text/csv"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == pipeline.predict(rows).tolist()
            bad = (",".join(FEATURES) + "\nL,300.8,312.0,1374,heavy,3\n").encode()
            answer = await client.post("/invocations", content=bad, headers={"content-type": "text/csv; charset=utf-8"})
            assert answer.status_code == 400 and "'Torque [Nm]' must be float" in answer.json()["error"]
            twice = b"Type,Type\nL,M\n"
            answer = await client.post("/invocations", content=twice, headers={"content-type": "text/csv"})
            assert answer.status_code == 400 and "'Type' appears twice" in answer.json()["error"]

    asyncio.run(scenario())


def test_class_probabilities_through_v2_outputs_and_invocations_params(champion_ws, ai4i_data) -> None:
    ws, pipeline = champion_ws
    features, _ = ai4i_data
    rows = features.iloc[0:5]
    expected = pipeline.predict_proba(rows)
    v2 = {"inputs": [{"name": c, "shape": [5], "datatype": "BYTES" if c == "Type" else "FP64",
                      "data": rows[c].tolist()} for c in FEATURES]}

    async def scenario() -> None:
        async with in_process(make_app(ws, model_ref="ai4i@champion")) as client:
            meta = (await client.get("/v2/models/ai4i")).json()
            assert {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]} in meta["outputs"]
            answer = await client.post("/v2/models/ai4i/infer", json=v2 | {"outputs": [{"name": "predict_proba"}]})
            assert answer.status_code == 200, answer.text
            (output,) = answer.json()["outputs"]
            assert output["name"] == "predict_proba" and output["shape"] == [5, 2]
            assert np.array_equal(np.array(output["data"]).reshape(5, 2), expected)
            both = await client.post("/v2/models/ai4i/infer",
                                     json=v2 | {"outputs": [{"name": "predict"}, {"name": "probabilities"}]})
            predict, probabilities = both.json()["outputs"]
            assert predict["data"] == pipeline.predict(rows).tolist()
            assert probabilities["name"] == "probabilities" and probabilities["shape"] == [5, 2]
            answer = await client.post("/invocations", json={
                "dataframe_split": {"columns": FEATURES, "data": rows.to_numpy().tolist()},
                "params": {"predict_method": "predict_proba"}})
            assert answer.status_code == 200 and np.array_equal(np.array(answer.json()["predictions"]), expected)
            answer = await client.post("/invocations", json={
                "dataframe_split": {"columns": FEATURES, "data": rows.to_numpy().tolist()},
                "params": {"predict_method": "explain"}})
            assert answer.status_code == 400 and "'explain'" in answer.json()["error"]
            # predict_proba runs outside the micro-batcher: still one observation per model call
            # (proba alone, predict + proba, proba by /invocations: 4 calls of 5 rows).
            metrics = (await client.get("/metrics")).text
            assert re.search(r'slipway_inference_batch_rows_count\{[^}]*variant="default"[^}]*\} 4\.0', metrics)
            assert re.search(r'slipway_inference_batch_rows_sum\{[^}]*variant="default"[^}]*\} 20\.0', metrics)

    asyncio.run(scenario())


def test_a_model_without_probabilities_refuses_them(home) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(home))
    model = served_from_object("m", "1", TorqueThreshold(), {"inputs": [{"name": "Torque [Nm]", "type": "double"}]})

    async def scenario() -> None:
        async with in_process(make_app(ws, FAST, models=[model])) as client:
            meta = (await client.get("/v2/models/m")).json()
            assert [o["name"] for o in meta["outputs"]] == ["predict"]
            body = {"inputs": [{"name": "Torque [Nm]", "shape": [1], "datatype": "FP64", "data": [60.0]}],
                    "outputs": [{"name": "predict_proba"}]}
            answer = await client.post("/v2/models/m/infer", json=body)
            assert answer.status_code == 400 and "unknown output 'predict_proba'" in answer.json()["error"]
            answer = await client.post("/invocations", json={"inputs": {"Torque [Nm]": [60.0]},
                                                             "params": {"predict_method": "predict_proba"}})
            assert answer.status_code == 400 and "has no predict_proba" in answer.json()["error"]

    asyncio.run(scenario())


def test_unapproved_versions_follow_the_governance_policy(champion_ws, ai4i_data) -> None:
    ws, _ = champion_ws
    features, label = ai4i_data
    version = register(ws, train_pipeline(features.head(500), label.head(500)), "ai4i", features.head(5))
    ref = f"ai4i/{version}"

    async def start(options: ServeOptions) -> None:
        async with in_process(make_app(ws, options, model_ref=ref)) as client:
            answer = await client.post("/invocations", json={"instances": orjson.loads(features.iloc[[0]].to_json(orient="values"))})
            assert answer.status_code == 200 and answer.headers["x-slipway-model-version"] == f"ai4i/{version}"

    with pytest.raises(Conflict, match=r"'registered', not approved.*--allow-unapproved"):
        asyncio.run(start(FAST))
    asyncio.run(start(dataclasses.replace(FAST, allow_unapproved=True)))  # development: served
    with pytest.raises(Conflict, match="'production' environment serves only approved"):
        asyncio.run(start(dataclasses.replace(FAST, allow_unapproved=True, environment="production")))

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env |= {"SLIPWAY_HOME": str(ws.settings.home), "PYTHONPATH": str(ROOT)}
    refused = subprocess.run([sys.executable, "-m", "slipway.cli.main", "serve", ref, "--port", "1"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2, refused.stderr
    assert "not approved" in refused.stderr + refused.stdout and "Traceback" not in refused.stderr
    assert "Serving" not in refused.stdout
