"""Protocol faithfulness (issue 14.12) and ASCII-only length headers (13.2): ids returned as
given, booleans that must be booleans, duplicated columns refused, gzip bodies decoded, zero-row
batches answered with a clear 400."""

from __future__ import annotations

import asyncio
import gzip

import httpx
import orjson

from tests.serving.asgi import in_process, make_app, on_socket
from tests.serving.helpers import FEATURES
from tests.serving.test_bad_requests import _v2_row

ROW = ["L", 300.8, 312.0, 1374, 50.2, 3]


def test_v2_ids_are_returned_as_given(champion_ws) -> None:
    ws, _ = champion_ws

    async def scenario() -> None:
        async with in_process(make_app(ws, model_ref="ai4i@champion")) as client:
            long_id = "r" * 300
            answer = await client.post("/v2/models/ai4i/infer", json=_v2_row("UINT16", 3) | {"id": long_id})
            assert answer.status_code == 200 and answer.json()["id"] == long_id
            assert answer.headers["x-request-id"] == long_id
            answer = await client.post("/v2/models/ai4i/infer", json=_v2_row("UINT16", 3) | {"id": ""})
            assert answer.status_code == 200 and answer.json()["id"] == ""
            assert len(answer.headers["x-request-id"]) == 32  # the log still needs a key: a new one

    asyncio.run(scenario())


def test_binary_flags_must_be_booleans_and_columns_unique(champion_ws) -> None:
    ws, _ = champion_ws

    async def scenario() -> None:
        async with in_process(make_app(ws, model_ref="ai4i@champion")) as client:
            for body, message in (
                (_v2_row("UINT16", 3) | {"parameters": {"binary_data_output": "false"}},
                 "binary_data_output must be true or false"),
                (_v2_row("UINT16", 3) | {"outputs": [{"name": "predict", "parameters": {"binary_data": 1}}]},
                 "binary_data of output 'predict' must be true or false"),
            ):
                answer = await client.post("/v2/models/ai4i/infer", json=body)
                assert answer.status_code == 400 and message in answer.json()["error"], answer.text
            answer = await client.post("/v2/models/ai4i/infer",
                                       json=_v2_row("UINT16", 3) | {"parameters": {"binary_data_output": False}})
            assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
            duplicated = {"dataframe_split": {"columns": [*FEATURES, "Torque [Nm]"], "data": [[*ROW, -1.0]]}}
            answer = await client.post("/invocations", json=duplicated)
            assert answer.status_code == 400 and "'Torque [Nm]' is given twice" in answer.json()["error"]

    asyncio.run(scenario())


def test_zero_rows_and_unicode_digit_lengths_are_clear_400s(champion_ws) -> None:
    ws, _ = champion_ws
    empty = {"inputs": [{"name": name, "shape": [0], "datatype": datatype, "data": []} for name, datatype in zip(
        FEATURES, ["BYTES", "FP64", "FP64", "INT64", "FP64", "INT64"], strict=True)]}

    async def scenario() -> None:
        async with in_process(make_app(ws, model_ref="ai4i@champion")) as client:
            answer = await client.post("/v2/models/ai4i/infer", json=empty)
            assert answer.status_code == 400 and answer.json()["error"] == "the request has no rows"
            for body in ({"dataframe_records": []}, {"instances": []}):
                answer = await client.post("/invocations", json=body)
                assert answer.status_code == 400 and answer.json()["error"] == "the request has no rows"
            # "²".isdigit() is true, int("²") raises: a 400, not a 500.
            answer = await client.post("/v2/models/ai4i/infer", content=orjson.dumps(_v2_row("UINT16", 3)),
                                       headers={"inference-header-content-length": "²".encode("latin-1")})
            assert answer.status_code == 400 and "Inference-Header-Content-Length" in answer.json()["error"]

    asyncio.run(scenario())


def test_gzip_bodies_are_decoded_and_unknown_encodings_are_415(champion_ws) -> None:
    ws, _ = champion_ws
    body = orjson.dumps({"dataframe_split": {"columns": FEATURES, "data": [ROW, ROW]}})
    with on_socket(make_app(ws, model_ref="ai4i@champion")) as url:
        answer = httpx.post(f"{url}/invocations", content=gzip.compress(body),
                            headers={"content-type": "application/json", "content-encoding": "gzip"})
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 2
        answer = httpx.post(f"{url}/invocations", content=body,
                            headers={"content-type": "application/json", "content-encoding": "br"})
        assert answer.status_code == 415 and "'br'" in answer.json()["error"]
        answer = httpx.post(f"{url}/invocations", content=b"not gzip at all",
                            headers={"content-type": "application/json", "content-encoding": "gzip"})
        assert answer.status_code == 400 and "not valid gzip" in answer.json()["error"]
        bomb = gzip.compress(b" " * (17 * 1024 * 1024))  # 17 MiB of spaces: over the 16 MiB limit once inflated
        answer = httpx.post(f"{url}/invocations", content=bomb,
                            headers={"content-type": "application/json", "content-encoding": "gzip"})
        assert answer.status_code == 413 and "decompressed" in answer.json()["error"]
