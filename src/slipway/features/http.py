"""``slipway features serve``: a standalone online feature server over one workspace.

``POST /online`` with ``{"features": "fraud" | ["view:feature", …], "entities": [{…}, …]}``
answers ``{"features": [...], "values": {name: [...]}, "status": {name: [...]}}``, on-demand views
included (they run here, in the server's process); ``GET /healthz``. Errors are JSON with the
error's HTTP status, as on the platform server.

The lookup route is lean on purpose: the app is a bare ASGI callable (no router, middleware or
request object), the body is parsed with orjson, and a small lookup (up to
:data:`INLINE_ENTITIES` entities, a few SQLite or Redis reads) runs inline on the event loop
instead of hopping to a thread; a bigger one runs in a thread so it does not hold other callers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import orjson

from slipway.core.errors import InvalidInput, SlipwayError

INLINE_ENTITIES = 16
MAX_BODY_BYTES = 16 * 1024 * 1024
_JSON_HEADERS = [(b"content-type", b"application/json")]


def _encode(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


class FeatureServer:
    """The ASGI app of ``slipway features serve`` (see the module docstring). :meth:`answer` is
    the whole request handling, transport aside: :mod:`slipway.features.http_server` calls it
    straight from its own HTTP/1.1 loop."""

    def __init__(self, workspace: Any) -> None:
        self.workspace = workspace

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        body: bytes | None = b""
        if path == "/online" and method == "POST":
            body = await _read_body(receive)
        answer = self.answer(method, path, body)
        status, payload = answer if isinstance(answer, tuple) else await answer
        await send({"type": "http.response.start", "status": status,
                    "headers": [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    def answer(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes] | Awaitable[tuple[int, bytes]]:
        """The status and JSON body for a request (``body`` None: it was larger than
        :data:`MAX_BODY_BYTES`), or an awaitable of them for a lookup too big to run inline."""
        if path == "/online" and method == "POST":
            if body is None:
                return 413, _encode({"error": {"type": "PayloadTooLarge", "message":
                                               f"the body is larger than {MAX_BODY_BYTES} bytes"}})
            return self._online(body)
        if path in ("/healthz", "/health") and method in ("GET", "HEAD"):
            return 200, b'{"status":"ok"}'
        if path == "/online":
            return 405, _encode({"error": {"type": "InvalidInput", "message": "use POST /online"}})
        return 404, _encode({"error": {"type": "NotFound", "message": f"no route {path}"}})

    def _online(self, raw: bytes) -> tuple[int, bytes] | Awaitable[tuple[int, bytes]]:
        try:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as err:
                raise InvalidInput(f"the body is not JSON: {err}") from None
            if not isinstance(body, dict) or "features" not in body or "entities" not in body:
                raise InvalidInput('the body is {"features": SERVICE or [VIEW:FEATURE, ...], "entities": [{...}]}')
            entities = body["entities"]
            if isinstance(entities, list) and len(entities) > INLINE_ENTITIES:
                return self._in_thread(body["features"], entities, body.get("at_ms"))
            result = self.workspace.features.online(body["features"], entities, body.get("at_ms"))
        except SlipwayError as error:
            return _error(error)
        return 200, _encode({"features": result.features, "values": result.values, "status": result.status})

    async def _in_thread(self, features: Any, entities: Any, at_ms: Any) -> tuple[int, bytes]:
        try:
            result = await asyncio.to_thread(self.workspace.features.online, features, entities, at_ms)
        except SlipwayError as error:
            return _error(error)
        return 200, _encode({"features": result.features, "values": result.values, "status": result.status})


def _error(error: SlipwayError) -> tuple[int, bytes]:
    return error.http_status, _encode({"error": {"type": type(error).__name__, "message": error.message}})


async def _read_body(receive: Any) -> bytes | None:
    """The request body from ASGI messages; None past :data:`MAX_BODY_BYTES` (b"" when the client
    went away: the answer is sent nowhere)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        part = message.get("body", b"")
        size += len(part)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(part)
        if not message.get("more_body"):
            return b"".join(chunks) if len(chunks) != 1 else chunks[0]


def create_app(workspace: Any) -> FeatureServer:
    return FeatureServer(workspace)
