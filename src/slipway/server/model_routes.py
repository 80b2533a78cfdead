"""Read routes for the model registry under ``/api/v1/models…``, shaped like MLflow's REST reads.

They call the same :class:`~slipway.registry.backend.RegistryBackend` methods as
``POST /api/v1/registry/<method>`` (so permissions, results and errors are identical); changes
stay on the POST endpoints, which the Python client and CLI use.

- ``GET /api/v1/models`` (``?name=churn*`` to filter) — registered models
- ``GET /api/v1/models/{name}`` — one model
- ``GET /api/v1/models/{name}/versions`` — its versions, newest first
- ``GET /api/v1/models/{name}/versions/{version}`` — one version
- ``GET /api/v1/models/{name}/aliases/{alias}`` — the version an alias points at
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from slipway.core.records import dumps
from slipway.identity.authenticator import Authenticator
from slipway.local import LocalTransport
from slipway.registry.backend import RegistryBackend
from slipway.registry.records import ModelVersion, RegisteredModel
from slipway.server.responses import returns


def add_model_routes(app: FastAPI, base: LocalTransport, auth: Authenticator) -> None:
    async def call(request: Request, method: Callable[[RegistryBackend], Any]) -> Response:
        principal = await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
        backend = RegistryBackend(base.ctx.as_principal(principal))
        return Response(dumps(await run_in_threadpool(method, backend)), media_type="application/json")

    @app.get("/api/v1/models", tags=["models"])
    @returns(list[RegisteredModel])
    async def list_models(request: Request, name: str | None = None) -> Response:
        return await call(request, lambda b: b.search_models(name) if name else b.list_models())

    @app.get("/api/v1/models/{name}", tags=["models"])
    @returns(RegisteredModel)
    async def get_model(request: Request, name: str) -> Response:
        return await call(request, lambda b: b.get_model(name))

    @app.get("/api/v1/models/{name}/versions", tags=["models"])
    @returns(list[ModelVersion])
    async def list_versions(request: Request, name: str) -> Response:
        return await call(request, lambda b: b.list_versions(name))

    @app.get("/api/v1/models/{name}/versions/{version}", tags=["models"])
    @returns(ModelVersion)
    async def get_version(request: Request, name: str, version: str) -> Response:
        return await call(request, lambda b: b.resolve(f"{name}/{version}"))

    @app.get("/api/v1/models/{name}/aliases/{alias}", tags=["models"])
    @returns(ModelVersion)
    async def resolve_alias(request: Request, name: str, alias: str) -> Response:
        return await call(request, lambda b: b.resolve(f"{name}@{alias}"))
