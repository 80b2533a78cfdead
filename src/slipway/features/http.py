"""``slipway features serve``: a standalone online feature server over one workspace.

``POST /online`` with ``{"features": "fraud" | ["view:feature", …], "entities": [{…}, …]}``
answers ``{"features": [...], "values": {name: [...]}, "status": {name: [...]}}``, on-demand views
included (they run here, in the server's process); ``GET /healthz``. Errors are JSON with the
error's HTTP status, as on the platform server.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from slipway.core.errors import InvalidInput, SlipwayError


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), status, media_type="application/json")


def create_app(workspace: Any) -> Starlette:
    async def online(request: Request) -> Response:
        try:
            try:
                body = orjson.loads(await request.body())
            except orjson.JSONDecodeError as err:
                raise InvalidInput(f"the body is not JSON: {err}") from None
            if not isinstance(body, dict) or "features" not in body or "entities" not in body:
                raise InvalidInput('the body is {"features": SERVICE or [VIEW:FEATURE, ...], "entities": [{...}]}')
            result = await run_in_threadpool(workspace.features.online, body["features"], body["entities"],
                                             body.get("at_ms"))
        except SlipwayError as error:
            return _json({"error": {"type": type(error).__name__, "message": error.message}}, error.http_status)
        return _json({"features": result.features, "values": result.values, "status": result.status})

    async def healthz(_request: Request) -> Response:
        return _json({"status": "ok"})

    return Starlette(routes=[Route("/online", online, methods=["POST"]), Route("/healthz", healthz)])
