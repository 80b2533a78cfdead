"""The caller's mistakes are 4xx and never the model's error (issue 14.10), and every answer is
counted, including 500s raised outside the model call and clients that go away (14.11)."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import struct
import time
from typing import Any

import httpx
import numpy as np
import pytest

from slipway.serving.model import served_from_object
from tests.serving.asgi import FAST, in_process, make_app, on_socket
from tests.serving.test_bad_requests import _v2_row


def _variant(app: Any) -> Any:
    return app.state.runtime.router.production[0]


def _binary_inf_request() -> tuple[bytes, dict[str, str]]:
    """The AI4I row with a binary FP64 +inf torque (tritonclient's binary tensor extension)."""
    body = _v2_row("UINT16", 3)
    torque = body["inputs"][4]  # type: ignore[index]
    raw = struct.pack("<d", math.inf)
    del torque["data"]
    torque["parameters"] = {"binary_data_size": len(raw)}
    import orjson

    header = orjson.dumps(body)
    return header + raw, {"inference-header-content-length": str(len(header))}


def test_caller_mistakes_are_4xx_and_do_not_count_against_the_variant(champion_ws) -> None:
    ws, _ = champion_ws
    app = make_app(ws, model_ref="ai4i@champion")
    too_big = _v2_row("UINT16", 3)
    too_big["inputs"][4]["data"] = [1e39]  # type: ignore[index]  # finite in float64, inf as the trees' float32
    mistakes: list[tuple[dict[str, Any], str]] = [
        (_v2_row("UINT16", 3) | {"id": "请求-1"}, "outside Latin-1"),
        (_v2_row("UINT16", 3) | {"id": "a\r\nx-injected: 1"}, "control characters"),
        (_v2_row("UINT16", 3) | {"id": 7}, "'id' must be a string"),
        (_v2_row("UINT16", 3) | {"outputs": 5}, "'outputs' must be a list"),
        (_v2_row("UINT16", 3) | {"outputs": True}, "'outputs' must be a list"),
        (_v2_row("UINT16", 3) | {"outputs": ["predict", 3]}, "outputs[1]"),
        (too_big, "'Torque [Nm]' has 1e+39"),
    ]

    async def scenario() -> None:
        async with in_process(app) as client:
            for body, message in mistakes:
                answer = await client.post("/v2/models/ai4i/infer", json=body)
                assert answer.status_code == 400, (body, answer.text)
                assert message in answer.json()["error"], answer.text
            content, headers = _binary_inf_request()
            answer = await client.post("/v2/models/ai4i/infer", content=content, headers=headers)
            assert answer.status_code == 400 and "'Torque [Nm]' has inf" in answer.json()["error"], answer.text
            records = {"dataframe_records": [dict(zip(["Type", "Air temperature [K]", "Process temperature [K]",
                                                       "Rotational speed [rpm]", "Torque [Nm]", "Tool wear [min]"],
                                                      ["L", 300.8, 312.0, 1374, 3e38 * 10, 3], strict=True))]}
            answer = await client.post("/invocations", json=records)
            assert answer.status_code == 400 and "float32" in answer.json()["error"]
            ok = await client.post("/v2/models/ai4i/infer", json=_v2_row("UINT16", 3) | {"id": "fine"})
            assert ok.status_code == 200 and ok.json()["id"] == "fine"

    asyncio.run(scenario())
    counters = _variant(app).counters
    assert counters.errors == 0  # the canary controller sees no model error
    assert counters.requests == 1  # only the good request was judged


def test_crlf_id_over_a_real_socket_gets_an_answer(champion_ws) -> None:
    ws, _ = champion_ws
    with on_socket(make_app(ws, model_ref="ai4i@champion")) as url:
        answer = httpx.post(f"{url}/v2/models/ai4i/infer", json=_v2_row("UINT16", 3) | {"id": "a\r\nb"})
        assert answer.status_code == 400 and "control characters" in answer.json()["error"]
        answer = httpx.post(f"{url}/v2/models/ai4i/infer", json=_v2_row("UINT16", 3) | {"id": "é-latin-1"})
        assert answer.status_code == 200 and answer.json()["id"] == "é-latin-1"
        assert answer.headers["x-request-id"].encode("latin-1") == "é-latin-1".encode("latin-1")


class _Unencodable:
    """Predicts Python objects that no JSON encoder knows (a failure after the model call)."""

    def predict(self, frame: Any) -> np.ndarray:
        out = np.empty(len(frame), dtype=object)
        out[:] = [{1, 2}] * len(frame)
        return out


def test_a_500_outside_the_model_call_counts_against_the_variant(home) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(home))
    model = served_from_object("m", "1", _Unencodable(), {"inputs": [{"name": "x", "type": "double"}]})
    app = make_app(ws, FAST, models=[model])

    async def scenario() -> str:
        async with in_process(app) as client:
            answer = await client.post("/invocations", json={"inputs": {"x": [1.0]}})
            assert answer.status_code == 500 and "internal server error" in answer.json()["error"]
            return (await client.get("/metrics")).text

    scraped = asyncio.run(scenario())
    assert 'code="500",deployment="m",model="m",protocol="invocations",variant="default",version="1"} 1.0' in scraped
    assert _variant(app).counters.errors == 1


def test_a_client_gone_mid_body_is_counted_and_logs_no_traceback(champion_ws, caplog: pytest.LogCaptureFixture) -> None:
    ws, _ = champion_ws
    app = make_app(ws, model_ref="ai4i@champion")
    caplog.set_level(logging.DEBUG)
    with on_socket(app) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /invocations HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                         b"content-length: 5000\r\n\r\n{\"dataframe_split\": ")
        for _ in range(200):  # the server notices the closed connection on its own loop
            scraped = httpx.get(f"{url}/metrics").text
            if 'slipway_inference_rejected_requests_total{code="499",protocol="invocations"} 1.0' in scraped:
                break
            time.sleep(0.05)
        assert 'slipway_inference_rejected_requests_total{code="499",protocol="invocations"} 1.0' in scraped
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
