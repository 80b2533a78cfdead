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
