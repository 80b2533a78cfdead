"""The inference POSTs are answered on the ASGI interface directly: bodies sent in chunks are read
whole (or refused with a 413 as soon as they pass the limit), the answer carries the request id,
variant and version headers, and every request still reaches the metrics and the payload log."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import orjson

from slipway.serving.model import served_from_object
from slipway.serving.options import ServeOptions
from tests.serving.asgi import in_process, make_app, on_socket
from tests.serving.model_classes import TorqueThreshold

SIGNATURE = {"inputs": [{"name": "Type", "type": "string"}, {"name": "Torque [Nm]", "type": "double"}]}


def records(torques: list[float]) -> bytes:
    return orjson.dumps({"dataframe_records": [{"Type": "L", "Torque [Nm]": t} for t in torques]})


async def in_chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


def test_chunked_bodies_are_read_whole_and_refused_past_the_limit(home) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(home))
    served = served_from_object("m", "1", TorqueThreshold(50.0), SIGNATURE)
    options = ServeOptions(max_body_bytes=5_000, flush_seconds=0.1)
    torques = [float(t) for t in range(20, 80)]
    body = records(torques)
    assert len(body) < 5_000

    async def scenario() -> None:
        async with in_process(make_app(ws, options, models=[served])) as client:
            response = await client.post("/invocations", content=in_chunks(body, 7),
                                         headers={"content-type": "application/json"})
            assert response.status_code == 200, response.text
            assert response.json() == {"predictions": [int(t > 50.0) for t in torques]}
            # No content-length: the limit is enforced while the chunks arrive.
            big = records([40.0] * 200)
            refused = await client.post("/invocations", content=in_chunks(big, 1000))
            assert refused.status_code == 413
            assert refused.json() == {"error": "the request body is over 5000 bytes; the limit is 5000"}
            broken = await client.post("/invocations", content=in_chunks(b'{"dataframe_records": [', 5))
            assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]

    asyncio.run(scenario())
    assert ws.serving.payload_log("m").num_rows == len(torques)  # only the answered request is logged
    ws.close()


def test_answers_over_a_socket_carry_headers_and_are_all_recorded(home) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(home))
    served = served_from_object("m", "1", TorqueThreshold(50.0), SIGNATURE)
    options = ServeOptions(flush_seconds=0.1)
    with on_socket(make_app(ws, options, models=[served])) as url, httpx.Client(base_url=url) as client:
        mine = client.post("/invocations", content=records([60.0]), headers={"x-request-id": "req-7",
                                                                            "content-type": "application/json"})
        assert mine.status_code == 200 and mine.json() == {"predictions": [1]}
        assert mine.headers["x-request-id"] == "req-7"
        assert mine.headers["x-slipway-variant"] == "default" and mine.headers["x-slipway-model-version"] == "m/1"
        assert mine.headers["content-type"] == "application/json"
        assert int(mine.headers["content-length"]) == len(mine.content)
        generated = {client.post("/invocations", content=records([10.0, 90.0])).headers["x-request-id"]
                     for _ in range(20)}
        assert len(generated) == 20 and all(re.fullmatch(r"[0-9a-f]{32}", g) for g in generated)
        bad = client.post("/invocations", content=b'{"dataframe_records": [{"Type": "L"}]}')
        assert bad.status_code == 400 and bad.json() == {
            "error": "missing input 'Torque [Nm]' in a row; the model expects ['Type', 'Torque [Nm]']"}
        v2 = client.post("/v2/models/m/infer", json={"id": "v2-1", "inputs": [
            {"name": "Type", "shape": [1], "datatype": "BYTES", "data": ["M"]},
            {"name": "Torque [Nm]", "shape": [1], "datatype": "FP64", "data": [51.0]}]})
        assert v2.status_code == 200 and v2.headers["x-request-id"] == "v2-1"
        assert v2.json()["outputs"][0]["data"] == [1]
        metrics = client.get("/metrics").text

    def sample(name: str, **labels: str) -> float:
        for line in metrics.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"no {name} {labels} in /metrics")

    assert sample("slipway_inference_requests_total", protocol="invocations", code="200") == 21
    assert sample("slipway_inference_requests_total", protocol="invocations", code="400") == 1
    assert sample("slipway_inference_requests_total", protocol="v2", code="200") == 1
    assert sample("slipway_inference_request_duration_seconds_count") == 23
    assert sample("slipway_inference_batch_rows_count") == 22  # one batch per answered request, in series
    assert sample("slipway_inference_batch_rows_sum") == 1 + 2 * 20 + 1
    assert sample("slipway_inference_in_flight_requests") == 0
    log = ws.serving.payload_log("m")
    assert log.num_rows == 1 + 2 * 20 + 1
    assert set(log.column("request_id").to_pylist()) >= {"req-7", "v2-1", *generated}
    ws.close()
