"""The platform REST API.

Every endpoint of every backend (see :mod:`slipway.local.backends`) is published as
``POST /api/v1/<service>/<method>`` with its arguments as a JSON object, so the HTTP API and the
Python API cannot drift apart. Blobs have their own routes. Errors are JSON bodies
``{"error": {"type", "message"}}`` with the error's HTTP status.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from slipway.core.auth import endpoints_of
from slipway.core.errors import InvalidInput, SlipwayError
from slipway.core.records import dumps_fast, loads_fast
from slipway.core.settings import Settings
from slipway.governance.authenticator import Authenticator
from slipway.governance.dispatcher import dispatcher_lifespan
from slipway.local import LocalTransport, available_backends
from slipway.server.blob_routes import add_blob_routes
from slipway.server.metrics import REGISTRY, track_request
from slipway.server.mlflow import add_mlflow_routes
from slipway.server.model_routes import add_model_routes

log = logging.getLogger("slipway.server")
MAX_BODY = 512 * 1024 * 1024


def error_response(error: SlipwayError) -> JSONResponse:
    return JSONResponse({"error": error.to_dict()}, status_code=error.http_status)


def create_app(settings: Settings) -> FastAPI:
    base = LocalTransport(settings)
    auth = Authenticator(base.db, settings)
    app = FastAPI(title="Slipway platform API", version="1", openapi_url="/api/v1/openapi.json", docs_url="/api/v1/docs")
    app.state.transport = base
    app.state.auth = auth

    @app.exception_handler(SlipwayError)
    async def on_slipway_error(_request: Request, error: SlipwayError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(InvalidInput(f"invalid request: {error.errors()[:3]}"))

    @app.exception_handler(Exception)
    async def on_unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse({"error": {"type": "SlipwayError", "message": "internal server error"}}, status_code=500)

    app.middleware("http")(track_request)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        await run_in_threadpool(_ping, base)
        return {"status": "ready"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    for service, cls in available_backends().items():
        for method, permission in endpoints_of(cls).items():
            _add_endpoint(app, base, auth, service, cls, method, permission)
    add_blob_routes(app, base, auth)
    add_model_routes(app, base, auth)
    add_mlflow_routes(app, base, auth)
    # Queued webhook deliveries are sent by a background dispatcher while the server runs.
    app.router.lifespan_context = dispatcher_lifespan(base.ctx, app.router.lifespan_context)
    return app


def _ping(transport: LocalTransport) -> None:
    from sqlalchemy import text

    with transport.db.read() as conn:
        conn.execute(text("SELECT 1"))


def _add_endpoint(app: FastAPI, base: LocalTransport, auth: Authenticator, service: str, cls: type,
                  method: str, permission: str) -> None:
    target = getattr(cls, method)
    signature = inspect.signature(target)
    doc = inspect.getdoc(target) or ""

    async def handle(request: Request) -> Response:
        principal = await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
        body = await request.body()
        if len(body) > MAX_BODY:
            raise InvalidInput(f"request body is {len(body)} bytes; the limit is {MAX_BODY}")
        try:
            arguments = loads_fast(body) if body else {}
        except orjson.JSONDecodeError as err:
            raise InvalidInput(f"request body is not valid JSON: {err}") from err
        if not isinstance(arguments, dict):
            raise InvalidInput("request body must be a JSON object of named arguments")
        backend = cls(base.ctx.as_principal(principal))
        try:
            signature.bind(backend, **arguments)
        except TypeError as err:
            raise InvalidInput(f"{service}.{method}: {err}") from err
        result: Any = await run_in_threadpool(getattr(backend, method), **arguments)
        return Response(dumps_fast(result), media_type="application/json")

    app.add_api_route(
        f"/api/v1/{service}/{method}", handle, methods=["POST"], name=f"{service}.{method}",
        summary=f"{service}.{method} (needs '{permission}')", description=doc, tags=[service],
    )
