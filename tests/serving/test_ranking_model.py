"""A ranking model served over v2 (named INT64/FP32 outputs, BYTES-free) and /invocations."""

from __future__ import annotations

import struct

import httpx
import numpy as np
import pandas as pd

from slipway.workspace import Workspace
from tests.models.movielens import fitted
from tests.serving.asgi import make_app, on_socket
from tests.serving.recs import recs_fixture  # noqa: F401  (the recs_ws fixture)


def _v2(users: list[int], exclude: list[str], outputs: list[dict[str, object]] | None = None) -> dict[str, object]:
    body: dict[str, object] = {"inputs": [
        {"name": "user_id", "datatype": "INT64", "shape": [len(users)], "data": users},
        {"name": "exclude", "datatype": "BYTES", "shape": [len(users)], "data": exclude}]}
    if outputs is not None:
        body["outputs"] = outputs
    return body


def test_served_top_k_equals_the_model_in_process(recs_ws: Workspace) -> None:
    model = fitted()
    users = [1, 17, 150, 424_242]  # the last one is unknown: the popularity fallback
    exclude = ["", "296 356", "", ""]
    with on_socket(make_app(recs_ws, model_ref="recs@champion")) as url:
        meta = httpx.get(url + "/v2/models/recs").json()
        answer = httpx.post(url + "/v2/models/recs/infer", json=_v2(users, exclude, [{"name": "item_ids"},
                                                                                     {"name": "scores"}]))
        plain = httpx.post(url + "/v2/models/recs/infer", json=_v2(users, exclude))
        invocations = httpx.post(url + "/invocations", json={"dataframe_split": {
            "columns": ["user_id", "exclude"], "data": [[u, e] for u, e in zip(users, exclude, strict=True)]}})
        binary = httpx.post(url + "/v2/models/recs/infer", json={
            **_v2(users, exclude, [{"name": "item_ids", "parameters": {"binary_data": True}}])})
    assert answer.status_code == 200, answer.text
    expected = model.predict_outputs(pd.DataFrame({"user_id": users, "exclude": exclude}))
    ids, scores = answer.json()["outputs"]
    assert (ids["name"], ids["datatype"], ids["shape"]) == ("item_ids", "INT64", [4, 10])
    assert (scores["name"], scores["datatype"], scores["shape"]) == ("scores", "FP32", [4, 10])
    np.testing.assert_array_equal(np.array(ids["data"]).reshape(4, 10), expected["item_ids"])
    np.testing.assert_allclose(np.array(scores["data"]).reshape(4, 10), expected["scores"], rtol=1e-6)
    assert not {296, 356} & set(expected["item_ids"][1].tolist())
    assert plain.json()["outputs"][0]["name"] == "predict"
    np.testing.assert_array_equal(np.array(plain.json()["outputs"][0]["data"]).reshape(4, 10), expected["item_ids"])
    assert invocations.status_code == 200, invocations.text
    assert invocations.json()["predictions"] == expected["item_ids"].tolist()
    assert [o["name"] for o in meta["outputs"]] == ["predict", "item_ids", "scores"]
    assert meta["outputs"][1] == {"name": "item_ids", "datatype": "INT64", "shape": [-1, 10]}
    header_length = int(binary.headers["inference-header-content-length"])
    raw = binary.content[header_length:]
    assert list(struct.unpack(f"<{len(raw) // 8}q", raw)) == expected["item_ids"].reshape(-1).tolist()


def test_named_outputs_are_counted_in_the_batch_metrics(recs_ws: Workspace) -> None:
    """item_ids and scores are computed outside the micro-batcher: each call is still one
    observation of slipway_inference_batch_rows (the dashboard's "Rows per model batch")."""
    named = [{"name": "item_ids"}, {"name": "scores"}]
    with on_socket(make_app(recs_ws, model_ref="recs@champion")) as url, httpx.Client(base_url=url) as client:
        for users in ([1], [2, 3], [4, 5, 6]):
            answer = client.post("/v2/models/recs/infer", json=_v2(users, [""] * len(users), named))
            assert answer.status_code == 200, answer.text
        metrics = client.get("/metrics").text
    labels = ('deployment="recs"', 'model="recs"', 'variant="default"')
    observed = {line.split("{", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                if line.startswith(("slipway_inference_batch_rows_count{", "slipway_inference_batch_rows_sum{",
                                    "slipway_inference_batch_seconds_count{"))
                and all(label in line for label in labels)}
    assert observed == {"slipway_inference_batch_rows_count": 3.0, "slipway_inference_batch_rows_sum": 6.0,
                        "slipway_inference_batch_seconds_count": 3.0}


def test_unknown_output_and_bad_exclude_are_400(recs_ws: Workspace) -> None:
    with on_socket(make_app(recs_ws, model_ref="recs@champion")) as url:
        unknown = httpx.post(url + "/v2/models/recs/infer", json=_v2([1], [""], [{"name": "embeddings"}]))
        bad = httpx.post(url + "/v2/models/recs/infer", json=_v2([1], ["12 abc"], [{"name": "scores"}]))
    assert unknown.status_code == 400 and "item_ids" in unknown.json()["error"]
    assert bad.status_code == 400 and "exclude" in bad.json()["error"]
