"""The feature server's own HTTP/1.1 loop (``slipway.features.http_server``, the fast path
``features.http``): the same answers as the ASGI app under uvicorn, over SQLite and Redis online
stores, and the HTTP it must get right itself: keep-alive, pipelining in order (a threaded lookup
included), chunked bodies, ``Expect: 100-continue``, ``HEAD``, too-large bodies and malformed
requests."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest

from slipway.core import fastpaths
from slipway.features import http as feature_http
from slipway.features import http_server
from slipway.workspace import Workspace, open_workspace
from tests.features.pit_fixture import t
from tests.support import ServerThread, free_port, make_settings

AT = int(pd.Timestamp(t(3, 10)).timestamp() * 1000)


class FastServer:
    """:func:`slipway.features.http_server.run` on a loopback port, in a thread of the test."""

    def __init__(self, workspace: Workspace) -> None:
        self.app = feature_http.FeatureServer(workspace)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.ready, self.stop = threading.Event(), asyncio.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            started = asyncio.Event()
            task = asyncio.ensure_future(http_server.run(self.app, "127.0.0.1", self.port, started, self.stop))
            await started.wait()
            self.ready.set()
            await task

        self.loop.run_until_complete(main())

    def __enter__(self) -> FastServer:
        self.thread.start()
        assert self.ready.wait(20), "the feature server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture(params=["sqlite", "redis"])
def served(request: pytest.FixtureRequest, home: Path, repo: Path) -> Iterator[Workspace]:
    """A workspace with ``txn`` materialised into a SQLite or a (real) Redis online store."""
    overrides: dict[str, Any] = {}
    if request.param == "redis":
        overrides = {"online_store": "redis://127.0.0.1:6379/0",
                     "store_uri": f"sqlite:///{home}/{uuid.uuid4().hex}.db"}  # its own Redis namespace
    ws = open_workspace(make_settings(home, **overrides))
    ws.features.apply(repo)
    ws.features.materialize(end=t(3, 10))
    yield ws
    ws.close()


def _lookup(entities: list[dict[str, Any]], features: Any = "fraud") -> bytes:
    return orjson.dumps({"features": features, "entities": entities, "at_ms": AT})


def _exchange(url: str) -> list[tuple[int, Any]]:
    """The same requests against one server: status and JSON answer of each."""
    requests: list[tuple[str, str, bytes | None]] = [
        ("POST", "/online", _lookup([{"customer_id": 1, "amount": 90.0}, {"customer_id": 2, "amount": 1.0},
                                     {"customer_id": 9, "amount": 1.0}])),
        ("POST", "/online", _lookup([{"customer_id": c % 3, "amount": 2.0} for c in range(40)])),  # in a thread
        ("POST", "/online", _lookup([{"id": 1}], ["txn:amount_sum"])),
        ("POST", "/online", b"{"),
        ("POST", "/online", b"[1, 2]"),
        ("POST", "/online", _lookup([{"customer_id": 1}], "nope")),
        ("GET", "/online", None),
        ("GET", "/healthz", None),
        ("GET", "/nowhere", None),
    ]
    with httpx.Client(base_url=url, timeout=60) as client:
        return [(r.status_code, r.json()) for r in (client.request(m, p, content=b) for m, p, b in requests)]


def test_it_answers_exactly_as_the_asgi_app_under_uvicorn(served: Workspace) -> None:
    fastpaths.reset()
    with FastServer(served) as fast:
        ours = _exchange(fast.url)
    with ServerThread(feature_http.create_app(served)) as reference:
        theirs = _exchange(reference.url)
    assert ours == theirs
    assert [status for status, _ in ours] == [200, 200, 422, 422, 422, 404, 405, 200, 404]
    assert ours[0][1]["values"] == {"amount_sum": [30.0, None, None], "txn_count": [4, None, None],
                                    "amount_ratio": [3.0, None, None]}
    assert ours[0][1]["status"]["amount_sum"] == ["present", "expired", "missing"]
    assert ours[1][1]["values"]["amount_sum"][:3] == [None, 30.0, None]
    assert "not JSON" in ours[3][1]["error"]["message"] and "join key" in ours[2][1]["error"]["message"]
    assert fastpaths.taken().get("features.http", 0) >= 1


def _raw(port: int, data: bytes, responses: int) -> list[tuple[bytes, bytes]]:
    """Send ``data`` at once on one connection and read ``responses`` whole responses (head, body)."""
    out: list[tuple[bytes, bytes]] = []
    buffer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        while len(out) < responses:
            while b"\r\n\r\n" not in buffer:
                part = sock.recv(65536)
                assert part, f"connection closed after {len(out)} responses: {buffer!r}"
                buffer += part
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            if head.startswith(b"HTTP/1.1 100"):
                continue
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            while len(buffer) < length:
                part = sock.recv(65536)
                assert part
                buffer += part
            out.append((head, buffer[:length]))
            buffer = buffer[length:]
    return out


def _post(body: bytes, extra: bytes = b"") -> bytes:
    return b"POST /online HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n%scontent-length: %d\r\n\r\n%s" % (
        extra, len(body), body)


def test_pipelined_requests_are_answered_in_order_a_threaded_lookup_included(sqlite_ws: Workspace,
                                                                             repo: Path) -> None:
    sqlite_ws.features.apply(repo)
    sqlite_ws.features.materialize(end=t(3, 10))
    big = [{"customer_id": 1, "amount": float(n)} for n in range(1, 41)]  # > INLINE_ENTITIES: in a thread
    with FastServer(sqlite_ws) as server:
        answers = _raw(server.port, _post(_lookup(big)) + _post(_lookup([{"customer_id": 1, "amount": 90.0}]))
                       + b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n" + _post(b"{"), 4)
        statuses = [head.split(b" ")[1] for head, _ in answers]
        assert statuses == [b"200", b"200", b"200", b"422"]
        assert orjson.loads(answers[0][1])["values"]["amount_ratio"] == [n / 30.0 for n in range(1, 41)]
        assert orjson.loads(answers[1][1])["values"]["amount_ratio"] == [3.0]
        assert answers[2][1] == b'{"status":"ok"}'
        # a chunked body, after Expect: 100-continue
        body = _lookup([{"customer_id": 1, "amount": 15.0}])
        chunked = (b"POST /online HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ntransfer-encoding: chunked\r\n\r\n"
                   + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (5, body[:5], len(body) - 5, body[5:]))
        [(head, answer)] = _raw(server.port, chunked, 1)
        assert head.startswith(b"HTTP/1.1 200") and orjson.loads(answer)["values"]["amount_ratio"] == [0.5]
        with httpx.Client(base_url=server.url, timeout=60) as client:  # one kept-alive connection
            assert all(client.post("/online", content=_lookup([{"customer_id": 1, "amount": 30.0}])).json()[
                "values"]["amount_ratio"] == [1.0] for _ in range(20))
            assert client.head("/healthz").status_code == 200


def test_bad_http_too_large_bodies_and_connection_close(sqlite_ws: Workspace, repo: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_ws.features.apply(repo)
    monkeypatch.setattr(http_server, "MAX_BODY_BYTES", 64)
    with FastServer(sqlite_ws) as server:
        too_large = _post(_lookup([{"customer_id": n} for n in range(20)]))
        answers = _raw(server.port, too_large + b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n", 2)
        assert answers[0][0].startswith(b"HTTP/1.1 413") and b"PayloadTooLarge" in answers[0][1]
        assert answers[1][0].startswith(b"HTTP/1.1 200")  # the connection goes on
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            reply = b""
            while part := sock.recv(65536):  # the server closes the connection after its 400
                reply += part
        assert reply.startswith(b"HTTP/1.1 400") and b"bad HTTP request" in reply
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            reply = b""
            while part := sock.recv(65536):
                reply += part
        assert reply.startswith(b"HTTP/1.1 200") and b"connection: close" in reply and reply.endswith(b'{"status":"ok"}')
