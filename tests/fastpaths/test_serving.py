"""The inference server answers byte-for-byte alike with its fast paths (the compiled tree predict,
the ASGI dispatch of inference POSTs, the coalescing HTTP protocol) and without them: the AI4I
champion model, on v2, KServe v1 and MLflow ``/invocations``, with good rows and edge cases, over
a real loopback socket."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import uvicorn

from slipway.core import fastpaths
from slipway.serving.http import http_protocol
from tests.fastpaths.conftest import Switch
from tests.serving.asgi import make_app
from tests.serving.helpers import FEATURES
from tests.support import free_port

pytestmark = pytest.mark.fast_path
JSON = b"application/json"


def _v2(rows: Any, **extra: Any) -> bytes:
    inputs = [{"name": c, "shape": [len(rows)], "datatype": "BYTES" if c == "Type" else "FP64",
               "data": rows[c].tolist()} for c in FEATURES]
    return orjson.dumps({"inputs": inputs, **extra})


def _requests(features: Any) -> list[tuple[str, str, bytes, bytes]]:
    """(method, path, content type, body) for every protocol, good rows and edge cases."""
    rows, one = features.iloc[100:164], features.iloc[7:8]
    odd = features.iloc[200:208].copy()
    odd.loc[odd.index[0], "Type"] = "Z"  # a category the encoder never saw (handle_unknown="ignore")
    odd.loc[odd.index[1], "Torque [Nm]"] = 1e300
    odd.loc[odd.index[2], "Air temperature [K]"] = -0.0
    odd.loc[odd.index[3], "Rotational speed [rpm]"] = 0
    split = {"dataframe_split": {"columns": FEATURES, "data": rows.values.tolist()}}
    csv = rows.to_csv(index=False).encode()
    return [
        ("POST", "/v2/models/ai4i/infer", JSON, _v2(rows, id="r-1")),
        ("POST", "/v2/models/ai4i/infer", JSON, _v2(one)),
        ("POST", "/v2/models/ai4i/infer", JSON, _v2(odd)),
        ("POST", "/v2/models/ai4i/infer", JSON, _v2(features.iloc[0:0])),
        ("POST", "/v2/models/ai4i/versions/1/infer", JSON, _v2(rows)),
        ("POST", "/v2/models/ai4i/versions/9/infer", JSON, _v2(one)),
        ("POST", "/v2/models/nope/infer", JSON, _v2(one)),
        ("POST", "/v2/models/ai4i/infer", JSON, b'{"inputs": [{"name": "Type", "shape": [1], "datatype": "FP64"'),
        ("POST", "/v2/models/ai4i/infer", JSON, orjson.dumps({"inputs": [{"name": "Type", "shape": [1],
                                                                          "datatype": "BYTES", "data": ["L"]}]})),
        ("POST", "/v2/models/ai4i/infer", JSON, _v2(rows).replace(b'"FP64"', b'"INT8"', 1)),
        ("POST", "/v1/models/ai4i:predict", JSON, orjson.dumps({"instances": rows.to_dict("records")})),
        ("POST", "/v1/models/ai4i:predict", JSON, orjson.dumps({"instances": odd.values.tolist()})),
        ("POST", "/v1/models/ai4i:predict", JSON, orjson.dumps({"instances": []})),
        ("POST", "/v1/models/ai4i:explain", JSON, orjson.dumps({"instances": one.values.tolist()})),
        ("POST", "/invocations", JSON, orjson.dumps(split)),
        ("POST", "/invocations", JSON, orjson.dumps({"dataframe_records": odd.to_dict("records")})),
        ("POST", "/invocations", JSON, orjson.dumps({"instances": one.to_dict("records")})),
        ("POST", "/invocations", JSON, orjson.dumps({"inputs": {c: rows[c].tolist() for c in FEATURES}})),
        ("POST", "/invocations", b"text/csv", csv),
        ("POST", "/invocations", JSON, orjson.dumps({"dataframe_split": {"columns": FEATURES[1:],
                                                                          "data": rows[FEATURES[1:]].values.tolist()}})),
        ("POST", "/invocations", JSON, b"not json"),
        ("POST", "/invocations", b"application/xml", b"<rows/>"),
        ("GET", "/v2/models/ai4i", b"", b""),
        ("GET", "/v2/models/ai4i/ready", b"", b""),
        ("GET", "/v1/models/ai4i", b"", b""),
        ("GET", "/invocations", b"", b""),
        ("HEAD", "/ping", b"", b""),
    ]


def _raw(port: int, method: str, path: str, content_type: bytes, body: bytes) -> bytes:
    """The exact bytes the server sends back for one request on its own connection."""
    head = f"{method} {path} HTTP/1.1\r\nHost: inference\r\nConnection: close\r\n".encode()
    if body or method == "POST":
        head += b"Content-Type: " + content_type + f"\r\nContent-Length: {len(body)}\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head + b"\r\n" + body)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    answer = re.sub(rb"(?im)^date: [^\r]*\r\n", b"", b"".join(chunks))
    # A generated request id is a per-server random prefix and a counter: keep the counter.
    return re.sub(rb"\b[0-9a-f]{16}([0-9a-f]{16})\b", rb"<server>\1", answer)


@contextlib.contextmanager
def _server(ws: Any) -> Iterator[int]:
    """The champion served by uvicorn with the server's own protocol choice (http_protocol)."""
    port = free_port()
    app = make_app(ws, model_ref="ai4i@champion")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           http=http_protocol(ws.settings)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(400):
            if server.started:
                break
            time.sleep(0.05)
        assert server.started, "the inference server did not start"
        assert _raw(port, "GET", "/v2/health/ready", b"", b"").startswith(b"HTTP/1.1 200")
        yield port
    finally:
        server.should_exit = True
        thread.join(20)


def test_inference_answers_are_identical_with_and_without_fast_paths(champion_ws, ai4i_data, switch: Switch) -> None:
    ws, _ = champion_ws
    features, _ = ai4i_data
    requests = _requests(features)
    answers: dict[bool, list[bytes]] = {}
    for on in (True, False):
        switch(on)
        with _server(ws) as port:
            answers[on] = [_raw(port, *request) for request in requests]
        taken = fastpaths.taken()
        if on:
            assert {"serving.compiled", "serving.dispatch", "serving.http"} <= set(taken), taken
        else:
            assert taken == {}
    for request, fast, normal in zip(requests, answers[True], answers[False], strict=True):
        assert fast == normal, (request[:2], fast[:400], normal[:400])
    statuses = {a.split(b" ", 2)[1] for a in answers[True]}
    assert {b"200", b"400", b"404"} <= statuses  # the edge cases really were errors, answered alike
