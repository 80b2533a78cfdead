"""The feature server's own HTTP/1.1 loop: httptools' parser on an asyncio protocol, no ASGI.

Under uvicorn most of a one-entity lookup's CPU went to the ASGI cycle around it, not to the
lookup: a task per request, the scope and message dicts, the middleware, two sends. Here each
connection is one :class:`asyncio.Protocol` whose parser callbacks collect a request; when it is
complete, :meth:`~slipway.features.http.FeatureServer.answer` (the same handling the ASGI app
runs) gives the status and body, and the response goes out in one write, from the same call
that read the request. A lookup big enough to run in a thread pauses reading from that
connection until its answer is written, so pipelined requests are answered in order.

HTTP/1.1 keep-alive and pipelining, HTTP/1.0, chunked request bodies, ``Expect: 100-continue``
and ``HEAD`` behave as under uvicorn; a malformed request gets a JSON 400 and the connection is
closed. This is the fast path ``features.http`` (:mod:`slipway.core.fastpaths`): with fast paths
off, ``slipway features serve`` runs the ASGI app under uvicorn instead.
"""

from __future__ import annotations

import asyncio
import collections
import http
import logging
import signal
from typing import Any
from urllib.parse import unquote

import httptools
import orjson

from slipway.core import fastpaths
from slipway.features.http import MAX_BODY_BYTES, FeatureServer

logger = logging.getLogger(__name__)
_REASONS = {status.value: status.phrase.encode() for status in http.HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def response(status: int, body: bytes, keep_alive: bool, head_only: bool = False) -> bytes:
    """One whole HTTP/1.1 response: status line, JSON content type, length, and the body."""
    head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n" % (
        status, _REASONS.get(status, b""), len(body), b"" if keep_alive else b"connection: close\r\n")
    return head if head_only else head + body


class Connection(asyncio.Protocol):
    """One client connection (see the module docstring)."""

    def __init__(self, app: FeatureServer, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.chunks: list[bytes] = []
        self.size = 0
        self.expect_continue = False
        # complete requests not answered yet: (method, path, body or None when too large, keep-alive)
        self.queue: collections.deque[tuple[str, str, bytes | None, bool]] = collections.deque()
        self.busy = False  # a lookup is running in a thread; later requests wait for it

    # -- asyncio --------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        fastpaths.took("features.http")
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as err:
            self.queue.clear()
            if self.transport is not None and not self.busy:
                message = {"error": {"type": "InvalidInput", "message": f"bad HTTP request: {err}"}}
                self.transport.write(response(400, orjson.dumps(message), False))
                self.transport.close()
            elif self.transport is not None:
                self.transport.close()
            return
        self.drain()

    # -- httptools callbacks ----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.url, self.chunks, self.size, self.expect_continue = b"", [], 0, False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"expect" and value.lower() == b"100-continue":
            self.expect_continue = True

    def on_headers_complete(self) -> None:
        if self.expect_continue and self.transport is not None and not self.busy and not self.queue:
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size <= MAX_BODY_BYTES:
            self.chunks.append(body)
        else:
            self.chunks = []

    def on_message_complete(self) -> None:
        path = self.url.split(b"?", 1)[0].decode("latin-1")
        if "%" in path:
            path = unquote(path)
        chunks = self.chunks
        body = None if self.size > MAX_BODY_BYTES else chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.queue.append((self.parser.get_method().decode("latin-1"), path, body, self.parser.should_keep_alive()))

    # -- answering --------------------------------------------------------------------------------
    def drain(self) -> None:
        """Answer the complete requests in order, until one has to wait for a thread."""
        while self.queue and not self.busy and self.transport is not None:
            method, path, body, keep_alive = self.queue.popleft()
            try:
                answer = self.app.answer(method, path, body)
            except Exception as err:  # a bug, not bad input: answered as uvicorn would, and logged
                answer = _internal(err)
            if isinstance(answer, tuple):
                self.send(answer[0], answer[1], keep_alive, method == "HEAD")
            else:
                self.busy = True
                self.transport.pause_reading()
                self.loop.create_task(self.later(answer, keep_alive))

    async def later(self, answer: Any, keep_alive: bool) -> None:
        try:
            status, body = await answer
        except Exception as err:
            status, body = _internal(err)
        finally:
            self.busy = False
        if self.transport is None:
            return
        self.send(status, body, keep_alive)
        if self.transport is not None:
            self.transport.resume_reading()
            self.drain()

    def send(self, status: int, body: bytes, keep_alive: bool, head_only: bool = False) -> None:
        assert self.transport is not None
        self.transport.write(response(status, body, keep_alive, head_only))
        if not keep_alive:
            self.transport.close()
            self.transport = None


def _internal(err: Exception) -> tuple[int, bytes]:
    logger.exception("feature server: %s", err)
    return 500, orjson.dumps({"error": {"type": "InternalError", "message": "internal server error"}})


async def run(app: FeatureServer, host: str, port: int, ready: asyncio.Event | None = None,
              stop: asyncio.Event | None = None) -> None:
    """Serve ``app`` on ``host:port`` until ``stop`` is set (or SIGINT/SIGTERM, when ``stop`` is
    None); ``ready`` is set once the socket listens."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(app, loop), host, port, backlog=2048)
    if stop is None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    async with server:
        await stop.wait()


def serve(workspace: Any, host: str, port: int) -> None:
    """Run the feature server over ``workspace`` in this process (uvloop when installed). The
    feature service (pyarrow, NumPy: over a second to import) loads before the port opens, so the
    first lookup is not the slow one."""
    workspace.features  # noqa: B018 - imported for its side effect
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        asyncio.run(run(FeatureServer(workspace), host, port))
    else:
        uvloop.run(run(FeatureServer(workspace), host, port))
