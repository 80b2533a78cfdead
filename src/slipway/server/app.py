"""The platform REST API.

Every endpoint of every backend (see :mod:`slipway.local.backends`) is published as
``POST /api/v1/<service>/<method>`` with its arguments as a JSON object, so the HTTP API and the
Python API cannot drift apart. Each body is parsed by a request model derived from the method's
signature (:mod:`slipway.server.requests`) and published in the OpenAPI document
(:mod:`slipway.server.openapi`); bodies are bounded before they are read
(:mod:`slipway.server.body_limits`). Blobs have their own routes. Errors are JSON bodies
``{"error": {"type", "message"}}`` with the error's HTTP status.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from slipway.core.auth import READ_PERMISSIONS, endpoints_of
from slipway.core.errors import InvalidInput, SlipwayError, TooManyAttempts
from slipway.core.records import dumps_fast
from slipway.core.scrape import scrape_allowed
from slipway.core.settings import Settings
from slipway.identity.authenticator import Authenticator
from slipway.identity.server_key import server_signer
from slipway.local import SERVER_PRINCIPAL, LocalTransport, available_backends
from slipway.server.blob_routes import add_blob_routes
from slipway.server.body_limits import BodyLimit
from slipway.server.metrics import RequestMetrics, exposition
from slipway.server.mlflow import add_mlflow_routes
from slipway.server.model_routes import add_model_routes
from slipway.server.openapi import install_openapi, statuses_of
from slipway.server.requests import RequestModel
from slipway.store.idempotency import exactly_once
from slipway.webhooks.dispatcher import dispatcher_lifespan

log = logging.getLogger("slipway.server")


def error_response(error: SlipwayError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after_s)} if isinstance(error, TooManyAttempts) else None
    return JSONResponse({"error": error.to_dict()}, status_code=error.http_status, headers=headers)


def create_app(settings: Settings) -> FastAPI:
    base = LocalTransport(settings, SERVER_PRINCIPAL, credential="token")
    # Decisions made through this server are signed with its own registered key (identity.server_key).
    base.ctx = dataclasses.replace(base.ctx, signer=server_signer(base.ctx))
    auth = Authenticator(base.db, settings)
    app = FastAPI(title="Slipway platform API", version="1", openapi_url="/api/v1/openapi.json", docs_url="/api/v1/docs")
    app.state.transport = base
    app.state.auth = auth

    @app.exception_handler(SlipwayError)
    async def on_slipway_error(_request: Request, error: SlipwayError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:5])
        return error_response(InvalidInput(f"invalid request: {problems}"))

    @app.exception_handler(StarletteHTTPException)
    async def on_routing_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        # An unknown route or method answers in Slipway's error shape too (FastAPI's is {"detail": …}).
        kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(error.status_code, "SlipwayError")
        message = (f"no such route: {request.method} {request.url.path}" if error.status_code == 404
                   else f"{request.method} is not allowed on {request.url.path}" if error.status_code == 405
                   else str(error.detail))
        return JSONResponse({"error": {"type": kind, "message": message}}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def on_unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse({"error": {"type": "SlipwayError", "message": "internal server error"}}, status_code=500)

    app.add_middleware(RequestMetrics)
    app.add_middleware(BodyLimit, max_request_bytes=settings.max_request_bytes,
                       max_upload_bytes=settings.max_upload_bytes)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        await run_in_threadpool(_ping, base)
        return {"status": "ready"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if not scrape_allowed(request.headers.get("authorization"), settings.metrics_token):
            return JSONResponse({"error": "/metrics needs the scrape token: Authorization: Bearer <metrics_token>"},
                                401, {"WWW-Authenticate": "Bearer"})
        return Response(await run_in_threadpool(exposition, base.db), media_type=CONTENT_TYPE_LATEST)

    requests: dict[str, tuple[RequestModel, list[int]]] = {}
    for service, cls in available_backends().items():
        for method, permission in endpoints_of(cls).items():
            path, request = _add_endpoint(app, base, auth, service, cls, method, permission)
            requests[path] = (request, statuses_of(getattr(cls, method)))
    install_openapi(app, requests)
    add_blob_routes(app, base, auth, settings)
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
                  method: str, permission: str) -> tuple[str, RequestModel]:
    target = getattr(cls, method)
    request_model = RequestModel(f"{service}.{method}", target)
    path = f"/api/v1/{service}/{method}"

    async def handle(request: Request) -> Response:
        principal = await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
        arguments = request_model.parse(await request.body())
        backend = cls(base.ctx.as_principal(principal))
        key = request.headers.get("idempotency-key")
        if key is not None and permission not in READ_PERMISSIONS:
            body = await run_in_threadpool(exactly_once, base.db, key, principal.name, path, await request.body(),
                                           lambda: dumps_fast(getattr(backend, method)(**arguments)))
            return Response(body, media_type="application/json")
        result: Any = await run_in_threadpool(getattr(backend, method), **arguments)
        return Response(dumps_fast(result), media_type="application/json")

    app.add_api_route(
        path, handle, methods=["POST"], name=f"{service}.{method}",
        summary=f"{service}.{method} (needs '{permission}')", description=inspect.getdoc(target) or "",
        tags=[service],
    )
    return path, request_model
