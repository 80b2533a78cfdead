"""Bad requests get a 4xx with a message naming the problem; a model that raises gets a 500 and
the server keeps serving everyone else, including requests batched with the failing one."""

from __future__ import annotations

import asyncio

import pytest

from slipway.serving.model import served_from_object
from slipway.serving.options import ServeOptions
from tests.serving.asgi import FAST, in_process, make_app
from tests.serving.model_classes import RefusesNegativeTorque

SIGNATURE = {"inputs": [{"name": "Type", "type": "string"}, {"name": "Torque [Nm]", "type": "double"}]}


def good_v2(n: int = 2) -> dict[str, object]:
    return {"inputs": [{"name": "Type", "shape": [n], "datatype": "BYTES", "data": ["L"] * n},
                       {"name": "Torque [Nm]", "shape": [n], "datatype": "FP64", "data": [40.0] * n}]}


CASES = [
    ("/v2/models/m/infer", b"{not json", 400, "not valid JSON"),
    ("/v2/models/m/infer", b"[1, 2]", 400, "JSON object"),
    ("/v2/models/m/infer", b'{"inputs": []}', 400, "non-empty 'inputs'"),
    ("/v2/models/m/infer", {"inputs": [{"name": "Type", "shape": [2], "datatype": "BYTES", "data": ["L", "M"]}]},
     400, "missing input 'Torque [Nm]'"),
    ("/v2/models/m/infer", {"inputs": [*good_v2()["inputs"], {"name": "Extra", "shape": [2], "datatype": "FP64",
                                                               "data": [1, 2]}]}, 400, "unexpected input 'Extra'"),
    ("/v2/models/m/infer", {"inputs": [good_v2()["inputs"][0], {"name": "Torque [Nm]", "shape": [3],
                                                                 "datatype": "FP64", "data": [1, 2]}]},
     400, "has 2 values but shape [3] needs 3"),
    ("/v2/models/m/infer", {"inputs": [good_v2()["inputs"][0], {"name": "Torque [Nm]", "shape": [2],
                                                                 "datatype": "FP64", "data": ["a", "b"]}]},
     400, "FP64 data must be numbers"),
    ("/v2/models/m/infer", {"inputs": [good_v2()["inputs"][0], {"name": "Torque [Nm]", "shape": [2],
                                                                 "datatype": "FP99", "data": [1, 2]}]},
     400, "datatype 'FP99'"),
    ("/v2/models/m/infer", {"inputs": [{"name": "Type", "shape": [2], "datatype": "FP64", "data": [1, 2]},
                                       good_v2()["inputs"][1]]}, 400, "wrong datatype for a string column"),
    ("/v2/models/m/infer", {"inputs": [good_v2(2)["inputs"][0], good_v2(3)["inputs"][1]]}, 400, "same number of rows"),
    ("/v2/models/nope/infer", good_v2(), 404, "'nope' is not served"),
    ("/v1/models/m:explain", {"instances": [["L", 1.0]]}, 404, "unknown v1 action"),
    ("/v1/models/m:predict", {"instances": [["L", 1.0, 3.0]]}, 400, "row 0 has 3 values"),
    ("/v1/models/m:predict", {"rows": []}, 400, "'instances'"),
    ("/invocations", {"instances": [{"Type": "L"}]}, 400, "missing input 'Torque [Nm]'"),
    ("/invocations", {"dataframe_split": {"columns": ["Type", "Torque [Nm]"], "data": [["L", "heavy"]]}}, 400,
     "'Torque [Nm]' must be float"),
    ("/invocations", {"dataframe_records": [{"Type": 3, "Torque [Nm]": 1.0}]}, 400, "must be strings"),
    ("/invocations", {"instances": [], "inputs": []}, 400, "exactly one of"),
    ("/invocations", {"dataframe_split": {"columns": ["Type", "Torque [Nm]"], "data": []}}, 400, "no rows"),
]


@pytest.mark.parametrize("path,body,status,message", CASES, ids=[c[3][:30] for c in CASES])
def test_bad_request_is_4xx_with_a_clear_message(home, path, body, status, message) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(home))
    model = served_from_object("m", "1", RefusesNegativeTorque(), SIGNATURE)

    async def scenario() -> None:
        async with in_process(make_app(ws, FAST, models=[model])) as client:
            kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
            response = await client.post(path, **kwargs)
            assert response.status_code == status, response.text
            assert message in response.json()["error"]
            ok = await client.post("/v2/models/m/infer", json=good_v2())
            assert ok.status_code == 200 and ok.json()["outputs"][0]["data"] == [0, 0]

    asyncio.run(scenario())


def test_oversized_body_is_413_and_nothing_is_logged(home) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(home))
    model = served_from_object("m", "1", RefusesNegativeTorque(), SIGNATURE)
    options = ServeOptions(max_body_bytes=10_000, flush_seconds=0.1)

    async def scenario() -> None:
        async with in_process(make_app(ws, options, models=[model])) as client:
            big = good_v2(2000)
            response = await client.post("/v2/models/m/infer", json=big)
            assert response.status_code == 413 and "the limit is 10000" in response.json()["error"]
            assert (await client.post("/v2/models/m/infer", json=good_v2())).status_code == 200

    asyncio.run(scenario())
    assert ws.serving.payload_log("m").num_rows == 2


def test_model_that_raises_is_500_and_the_server_keeps_serving(home) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(home))
    model = served_from_object("m", "1", RefusesNegativeTorque(), SIGNATURE)
    bad = {"dataframe_records": [{"Type": "L", "Torque [Nm]": -1.0}]}
    good = {"dataframe_records": [{"Type": "L", "Torque [Nm]": 60.0}]}

    async def scenario() -> None:
        async with in_process(make_app(ws, FAST, models=[model])) as client:
            failed = await client.post("/invocations", json=bad)
            assert failed.status_code == 500
            assert "negative torque is physically impossible" in failed.json()["error"]
            # Concurrent requests share batches; only the bad ones fail.
            responses = await asyncio.gather(*[client.post("/invocations", json=bad if i % 10 == 0 else good)
                                               for i in range(100)])
            codes = [r.status_code for r in responses]
            assert codes.count(500) == 10 and codes.count(200) == 90
            assert all(r.json() == {"predictions": [1]} for r in responses if r.status_code == 200)
            metrics = (await client.get("/metrics")).text
            assert 'code="500"' in metrics and 'code="200"' in metrics

    asyncio.run(scenario())


def _v2_row(tool_wear_type: str, tool_wear: object, rpm_type: str = "INT64") -> dict[str, object]:
    return {"inputs": [
        {"name": "Type", "shape": [1], "datatype": "BYTES", "data": ["L"]},
        {"name": "Air temperature [K]", "shape": [1], "datatype": "FP64", "data": [300.8]},
        {"name": "Process temperature [K]", "shape": [1], "datatype": "FP64", "data": [312.0]},
        {"name": "Rotational speed [rpm]", "shape": [1], "datatype": rpm_type, "data": [1374]},
        {"name": "Torque [Nm]", "shape": [1], "datatype": "FP64", "data": [50.2]},
        {"name": "Tool wear [min]", "shape": [1], "datatype": tool_wear_type, "data": [tool_wear]}]}


def test_values_a_cast_would_change_are_refused_not_wrapped(champion_ws) -> None:
    ws, _ = champion_ws
    columns = ["Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
               "Tool wear [min]"]

    async def scenario() -> None:
        async with in_process(make_app(ws, model_ref="ai4i@champion")) as client:
            ok = await client.post("/v2/models/ai4i/infer", json=_v2_row("UINT16", 300))
            assert ok.status_code == 200
            cases = [
                (_v2_row("UINT8", 300), "300 is out of range for uint8"),  # numpy alone would make it 44
                (_v2_row("UINT16", 0, rpm_type="INT8"), "1374 is out of range for int8"),
                (_v2_row("FP16", 70000.0), "out of range for float16"),
                (_v2_row("INT64", True), "must be numbers"),
                (_v2_row("UINT16", 3) | {"parameters": 5}, "'parameters' must be an object"),
                (_v2_row("UINT16", 3) | {"outputs": [{"name": "nope"}]}, "unknown output 'nope'"),
                ({"inputs": [*_v2_row("UINT16", 3)["inputs"], _v2_row("UINT16", 3)["inputs"][0]]}, "given twice"),
            ]
            for body, message in cases:
                answer = await client.post("/v2/models/ai4i/infer", json=body)
                assert answer.status_code == 400 and message in answer.json()["error"], (body, answer.text)
            huge = {"dataframe_split": {"columns": columns, "data": [["L", 300.8, 312.0, 1374, 50.2, 2**64 - 212]]}}
            answer = await client.post("/invocations", json=huge)
            assert answer.status_code == 400 and "out of range for int64" in answer.json()["error"]
            # Early errors echo the caller's request id; unknown paths and methods are JSON too.
            broken = await client.post("/invocations", content=b'{"x', headers={"x-request-id": "r2"})
            assert broken.status_code == 400 and broken.headers["x-request-id"] == "r2"
            unknown = await client.post("/v2/models/nope/infer", json=_v2_row("UINT16", 3))
            assert unknown.status_code == 404
            scraped = (await client.get("/metrics")).text  # turned away before a model: still counted
            assert 'slipway_inference_rejected_requests_total{code="400",protocol="invocations"} 1.0' in scraped
            assert 'slipway_inference_rejected_requests_total{code="404",protocol="v2"} 1.0' in scraped
            for method, path, status in (("GET", "/invocations", 405), ("GET", "/nonexistent", 404)):
                answer = await client.request(method, path)
                assert answer.status_code == status and "error" in answer.json()
            # A v2 answer carries the request body's id, as the protocol says.
            answer = await client.post("/v2/models/ai4i/infer", json=_v2_row("UINT16", 3) | {"id": "myid"},
                                       headers={"x-request-id": "abc"})
            assert answer.json()["id"] == "myid"

    asyncio.run(scenario())
