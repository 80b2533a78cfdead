"""The AI4I pipeline served from ai4i@champion answers v2, v1 and /invocations with exactly the
in-process predictions, in-process (ASGI) and over a real socket with an independent v2 client."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pandas as pd
import tritonclient.http as triton

from tests.serving.asgi import in_process, make_app, on_socket
from tests.serving.helpers import FEATURES


def v2_inputs(rows: pd.DataFrame) -> list[dict[str, object]]:
    return [{"name": c, "shape": [len(rows)], "datatype": "BYTES" if c == "Type" else "FP64",
             "data": rows[c].tolist()} for c in FEATURES]


def test_every_protocol_matches_in_process_predictions(champion_ws, ai4i_data) -> None:
    ws, pipeline = champion_ws
    features, _ = ai4i_data
    rows = features.iloc[100:164]
    expected = ws.registry.load("ai4i@champion").predict(rows)
    assert np.array_equal(expected, pipeline.predict(rows))
    assert expected.sum() > 0 or len(set(expected)) >= 1

    async def scenario() -> None:
        async with in_process(make_app(ws, model_ref="ai4i@champion")) as client:
            v2 = await client.post("/v2/models/ai4i/infer", json={"id": "r-1", "inputs": v2_inputs(rows)})
            assert v2.status_code == 200, v2.text
            body = v2.json()
            assert body["model_name"] == "ai4i" and body["model_version"] == "1" and body["id"] == "r-1"
            assert body["outputs"][0]["shape"] == [64] and body["outputs"][0]["datatype"] == "INT64"
            assert body["outputs"][0]["data"] == expected.tolist()
            one_tensor = {"inputs": [{"name": "features", "shape": [64, 6], "datatype": "BYTES",
                                      "data": rows.astype(str).values.tolist()}]}
            assert (await client.post("/v2/models/ai4i/infer", json=one_tensor)).status_code == 400  # BYTES torque
            v1 = await client.post("/v1/models/ai4i:predict", json={"instances": rows.to_dict("records")})
            assert v1.json() == {"predictions": expected.tolist()}
            v1_lists = await client.post("/v1/models/ai4i:predict", json={"instances": rows.values.tolist()})
            assert v1_lists.json()["predictions"] == expected.tolist()
            bodies = [
                {"dataframe_split": {"columns": FEATURES, "data": rows.values.tolist()}},
                {"dataframe_records": rows.to_dict("records")},
                {"instances": rows.to_dict("records")},
                {"inputs": {c: rows[c].tolist() for c in FEATURES}},
            ]
            for request in bodies:
                response = await client.post("/invocations", json=request)
                assert response.status_code == 200, (request.keys(), response.text)
                assert response.json() == {"predictions": expected.tolist()}
            meta = (await client.get("/v2/models/ai4i")).json()
            assert [i["name"] for i in meta["inputs"]] == FEATURES and meta["versions"] == ["1"]
            assert (await client.get("/v2/models/ai4i/versions/1/ready")).json()["ready"] is True
            assert (await client.get("/v2/health/ready")).status_code == 200
            assert (await client.get("/v2")).json()["name"] == "slipway"

    asyncio.run(scenario())


def test_real_socket_with_an_independent_v2_client(champion_ws, ai4i_data) -> None:
    ws, _ = champion_ws
    features, _ = ai4i_data
    rows = features.iloc[:40]
    expected = ws.registry.load("ai4i@champion").predict(rows)
    with on_socket(make_app(ws, model_ref="ai4i@champion")) as url:
        client = triton.InferenceServerClient(url.removeprefix("http://"))
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("ai4i")
        assert client.get_model_metadata("ai4i")["inputs"][0]["name"] == "Type"
        inputs = []
        for column in FEATURES:
            values = rows[column].to_numpy()
            tensor = triton.InferInput(column, [len(rows)], "BYTES" if column == "Type" else "FP64")
            tensor.set_data_from_numpy(values.astype(object) if column == "Type" else values.astype(np.float64),
                                       binary_data=False)
            inputs.append(tensor)
        result = client.infer("ai4i", inputs, outputs=[triton.InferRequestedOutput("predict", binary_data=False)])
        assert np.array_equal(result.as_numpy("predict"), expected)
        client.close()
        direct = httpx.post(url + "/invocations", json={"dataframe_split": {"columns": FEATURES,
                                                                            "data": rows.values.tolist()}})
        assert direct.json()["predictions"] == expected.tolist()
        assert httpx.get(url + "/healthz").status_code == 200 and httpx.get(url + "/readyz").status_code == 200


def test_tritonclient_defaults_use_the_binary_tensor_extension(champion_ws, ai4i_data) -> None:
    ws, _ = champion_ws
    features, _ = ai4i_data
    rows = features.iloc[100:164]
    expected = ws.registry.load("ai4i@champion").predict(rows)
    with on_socket(make_app(ws, model_ref="ai4i@champion")) as url:
        assert "binary_tensor_data" in httpx.get(url + "/v2").json()["extensions"]
        client = triton.InferenceServerClient(url.removeprefix("http://"))
        inputs = []
        for column in FEATURES:  # tritonclient's defaults: binary tensors in, binary output back
            tensor = triton.InferInput(column, [len(rows)], "BYTES" if column == "Type" else "FP64")
            values = rows[column].to_numpy()
            tensor.set_data_from_numpy(values.astype(object) if column == "Type" else values.astype(np.float64))
            inputs.append(tensor)
        result = client.infer("ai4i", inputs, outputs=[triton.InferRequestedOutput("predict")])
        got = result.as_numpy("predict")
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
        as_json = client.infer("ai4i", inputs)  # binary in, JSON out (no output asked for)
        assert np.array_equal(as_json.as_numpy("predict"), expected)
        client.close()

        # A binary part that does not match the inputs is a 400 with a message, not a crash.
        header = b'{"inputs": [{"name": "Torque [Nm]", "shape": [2], "datatype": "FP64", ' \
                 b'"parameters": {"binary_data_size": 16}}]}'
        short = httpx.post(url + "/v2/models/ai4i/infer", content=header + b"\x00" * 8,
                           headers={"inference-header-content-length": str(len(header))})
        assert short.status_code == 400 and "binary_data_size 16" in short.json()["error"]
        extra = httpx.post(url + "/v2/models/ai4i/infer", content=header + b"\x00" * 20,
                           headers={"inference-header-content-length": str(len(header))})
        assert extra.status_code == 400 and "no input claims" in extra.json()["error"]
        wrong = httpx.post(url + "/v2/models/ai4i/infer", content=header,
                           headers={"inference-header-content-length": "99999"})
        assert wrong.status_code == 400 and "Inference-Header-Content-Length" in wrong.json()["error"]
