"""The v2 model metadata declares the output datatype and shape that ``/infer`` actually answers with."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

from slipway.serving.model import served_from_object
from tests.serving.asgi import in_process, make_app, on_socket
from tests.serving.helpers import FEATURES
from tests.serving.model_classes import TorqueThreshold

NUMERIC = FEATURES[1:]


def v2_body(rows: pd.DataFrame, columns: list[str]) -> dict[str, object]:
    return {"inputs": [{"name": c, "shape": [len(rows)], "datatype": "BYTES" if c == "Type" else "FP64",
                        "data": rows[c].tolist()} for c in columns]}


def assert_metadata_matches_infer(metadata: dict[str, object], infer: dict[str, object]) -> None:
    declared = metadata["outputs"][0]  # type: ignore[index]  # 'predict' (then 'predict_proba', if any)
    (answered,) = infer["outputs"]  # type: ignore[misc]
    assert declared["name"] == answered["name"] == "predict"
    assert declared["datatype"] == answered["datatype"], (declared, answered)
    assert len(declared["shape"]) == len(answered["shape"])
    assert all(d in (-1, a) for d, a in zip(declared["shape"], answered["shape"], strict=True))


def test_ai4i_classifier_metadata_declares_what_infer_returns_over_a_socket(champion_ws, ai4i_data) -> None:
    ws, _ = champion_ws
    features, _ = ai4i_data
    rows = features.iloc[300:310]
    with on_socket(make_app(ws, model_ref="ai4i@champion")) as url:
        metadata = httpx.get(url + "/v2/models/ai4i").json()
        versioned = httpx.get(url + "/v2/models/ai4i/versions/1").json()
        infer = httpx.post(url + "/v2/models/ai4i/infer", json=v2_body(rows, FEATURES))
    assert infer.status_code == 200, infer.text
    assert infer.json()["outputs"][0]["datatype"] == "INT64"  # the forest's integer class labels
    assert metadata["outputs"] == versioned["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]},
                                                           {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]}]
    assert_metadata_matches_infer(metadata, infer.json())


def test_regressor_and_string_label_metadata_follow_their_predictions(home, ai4i_data) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    features, label = ai4i_data
    numeric = features[NUMERIC]
    regressor = RandomForestRegressor(5, max_depth=4, random_state=0).fit(numeric, numeric["Torque [Nm]"] * 2)
    names = np.where(label.to_numpy() == 1, "failure", "ok")
    from sklearn.tree import DecisionTreeClassifier

    labeller = DecisionTreeClassifier(max_depth=3, random_state=0).fit(numeric, names)
    signature = [{"name": c, "type": "double"} for c in NUMERIC]
    ws = open_workspace(make_settings(home))
    rows = numeric.iloc[:7]
    try:
        for model, datatype in ((regressor, "FP64"), (labeller, "BYTES")):
            served = served_from_object("m", "1", model, signature, example=numeric.head(20))

            async def scenario(served=served, datatype=datatype) -> None:
                async with in_process(make_app(ws, models=[served])) as client:
                    metadata = (await client.get("/v2/models/m")).json()
                    infer = await client.post("/v2/models/m/infer", json=v2_body(rows, NUMERIC))
                    assert infer.status_code == 200, infer.text
                    assert infer.json()["outputs"][0]["datatype"] == datatype
                    assert_metadata_matches_infer(metadata, infer.json())

            asyncio.run(scenario())
    finally:
        ws.close()


def test_without_an_example_the_signature_outputs_are_declared(home) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    signature = {"inputs": [{"name": "Torque [Nm]", "type": "double"}],
                 "outputs": [{"type": "tensor", "dtype": "int64", "shape": [-1]}]}
    served = served_from_object("m", "1", TorqueThreshold(), signature)
    ws = open_workspace(make_settings(home))

    async def scenario() -> None:
        async with in_process(make_app(ws, models=[served])) as client:
            metadata = (await client.get("/v2/models/m")).json()
            infer = await client.post("/v2/models/m/infer", json={"inputs": [
                {"name": "Torque [Nm]", "shape": [2], "datatype": "FP64", "data": [30.0, 70.0]}]})
            assert infer.json()["outputs"][0]["data"] == [0, 1]
            assert metadata["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]}]
            assert_metadata_matches_infer(metadata, infer.json())

    try:
        asyncio.run(scenario())
    finally:
        ws.close()
