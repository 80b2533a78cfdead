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
from typing import Any

import orjson

from slipway.core.errors import InvalidInput, SlipwayError

INLINE_ENTITIES = 16
MAX_BODY_BYTES = 16 * 1024 * 1024
_JSON_HEADERS = [(b"content-type", b"application/json")]


def _encode(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


class FeatureServer:
    """The ASGI app of ``slipway features serve`` (see the module docstring)."""

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
        if path == "/online" and method == "POST":
            status, body = await self._online(receive)
        elif path in ("/healthz", "/health") and method in ("GET", "HEAD"):
            status, body = 200, b'{"status":"ok"}'
        elif path == "/online":
            status, body = 405, _encode({"error": {"type": "InvalidInput", "message": "use POST /online"}})
        else:
            status, body = 404, _encode({"error": {"type": "NotFound", "message": f"no route {path}"}})
        await send({"type": "http.response.start", "status": status,
                    "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _online(self, receive: Any) -> tuple[int, bytes]:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return 400, b""
            part = message.get("body", b"")
            size += len(part)
            if size > MAX_BODY_BYTES:
                return 413, _encode({"error": {"type": "PayloadTooLarge", "message":
                                               f"the body is larger than {MAX_BODY_BYTES} bytes"}})
            chunks.append(part)
            if not message.get("more_body"):
                break
        try:
            try:
                body = orjson.loads(b"".join(chunks) if len(chunks) != 1 else chunks[0])
            except orjson.JSONDecodeError as err:
                raise InvalidInput(f"the body is not JSON: {err}") from None
            if not isinstance(body, dict) or "features" not in body or "entities" not in body:
                raise InvalidInput('the body is {"features": SERVICE or [VIEW:FEATURE, ...], "entities": [{...}]}')
            entities = body["entities"]
            lookup = self.workspace.features.online
            if isinstance(entities, list) and len(entities) <= INLINE_ENTITIES:
                result = lookup(body["features"], entities, body.get("at_ms"))
            else:
                result = await asyncio.to_thread(lookup, body["features"], entities, body.get("at_ms"))
        except SlipwayError as error:
            return error.http_status, _encode({"error": {"type": type(error).__name__, "message": error.message}})
        return 200, _encode({"features": result.features, "values": result.values, "status": result.status})


def create_app(workspace: Any) -> FeatureServer:
    return FeatureServer(workspace)
