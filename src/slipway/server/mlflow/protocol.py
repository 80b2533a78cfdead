"""How an MLflow REST call is served: its route under both prefixes MLflow clients use, the
caller's principal, the request's fields (JSON body or query string) and MLflow's error shape.

Handlers are plain functions ``(call: MlflowCall) -> dict`` run in a worker thread; each module
lists its own in a :data:`Routes` table that :func:`slipway.server.mlflow.add_mlflow_routes`
mounts.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from slipway.core.auth import Principal
from slipway.core.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SlipwayError,
    Unauthenticated,
)
from slipway.identity.authenticator import Authenticator
from slipway.local import LocalTransport
from slipway.registry.backend import RegistryBackend
from slipway.tracking.admin import TrackingAdmin
from slipway.tracking.backend import TrackingBackend

log = logging.getLogger("slipway.server.mlflow")
PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
MAX_JSON = 64 * 1024 * 1024
PROJECT_TAG, PROJECT_HEADER = "slipway.project", "x-slipway-project"

# Slipway error class -> (MLflow error code, HTTP status), as MLflow's own server answers.
_CODES: tuple[tuple[type[SlipwayError], str, int], ...] = (
    (NotFound, "RESOURCE_DOES_NOT_EXIST", 404),
    (AlreadyExists, "RESOURCE_ALREADY_EXISTS", 400),
    (InvalidInput, "INVALID_PARAMETER_VALUE", 400),
    (Conflict, "RESOURCE_CONFLICT", 409),
    (PermissionDenied, "PERMISSION_DENIED", 403),
    (Unauthenticated, "UNAUTHENTICATED", 401),
)


class MlflowError(Exception):
    """An error with an explicit MLflow code, for cases no Slipway error class names."""

    def __init__(self, message: str, code: str = "INVALID_PARAMETER_VALUE", status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def error_body(error: Exception) -> JSONResponse:
    """``{"error_code", "message"}`` with MLflow's status for ``error``; 500 only for the unexpected."""
    if isinstance(error, MlflowError):
        return JSONResponse({"error_code": error.code, "message": str(error)}, status_code=error.status)
    for cls, code, status in _CODES:
        if isinstance(error, cls):
            return JSONResponse({"error_code": code, "message": str(error)}, status_code=status)
    if isinstance(error, SlipwayError):
        return JSONResponse({"error_code": "INTERNAL_ERROR", "message": str(error)}, status_code=error.http_status)
    log.exception("unexpected error in an MLflow call", exc_info=error)
    return JSONResponse({"error_code": "INTERNAL_ERROR", "message": "internal server error"}, status_code=500)


# Fields a client may send as a JSON number where MLflow's protos say string (a version number, an
# experiment id); Slipway's earlier answers accepted them, so they still are.
NUMBER_AS_TEXT = frozenset({"version", "experiment_id", "page_token"})


def invalid(name: str, value: Any) -> MlflowError:
    """MLflow's INVALID_PARAMETER_VALUE for a field of the wrong type: the value as compact JSON."""
    shown = orjson.dumps(value, default=str).decode()
    if len(shown) > 200:
        shown = shown[:200] + "..."
    return MlflowError(f"Invalid value {shown} for parameter '{name}' supplied")


@dataclasses.dataclass
class MlflowCall:
    """One request: who calls, its fields, and the Slipway backends acting as that caller."""

    base: LocalTransport
    principal: Principal
    fields: dict[str, Any]
    project_header: str | None = None  # ``X-Slipway-Project``, the project new objects go to

    def project_for_new(self, permission: str, tagged: str | None) -> str | None:
        """The project a new experiment or registered model goes to: the ``slipway.project`` tag,
        else the ``X-Slipway-Project`` header, else the caller's one project when ``permission``
        comes from a binding in exactly one, else None (the workspace's project)."""
        if tagged or self.project_header:
            return tagged or self.project_header
        bound = self.principal.projects_where(permission)
        return next(iter(bound)) if bound is not None and len(bound) == 1 else None

    @property
    def tracking(self) -> TrackingBackend:
        return TrackingBackend(self.base.ctx.as_principal(self.principal))

    @property
    def admin(self) -> TrackingAdmin:
        return TrackingAdmin(self.base.ctx.as_principal(self.principal))

    @property
    def registry(self) -> RegistryBackend:
        return RegistryBackend(self.base.ctx.as_principal(self.principal))

    def text(self, name: str, default: str | None = None) -> str:
        """Field ``name`` as a string; INVALID_PARAMETER_VALUE naming it when missing or not text,
        in MLflow's words (clients and MLflow's tests match them). A number is refused as MLflow
        refuses it, except for the id-like fields in :data:`NUMBER_AS_TEXT`."""
        value = self.fields.get(name, default)
        if value is None:
            raise MlflowError(f"Missing value for required parameter '{name}'")
        if isinstance(value, str) or (name in NUMBER_AS_TEXT and isinstance(value, int) and not isinstance(value, bool)):
            return str(value)
        raise invalid(name, value)

    def optional(self, name: str) -> str | None:
        return None if self.fields.get(name) in (None, "") else self.text(name)

    def integer(self, name: str, default: int | None = None) -> int:
        value = self.fields.get(name, default)
        try:
            if isinstance(value, bool) or value is None:
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise MlflowError(f"Invalid value {value!r} for parameter '{name}': expected an integer") from None

    def items(self, name: str) -> list[Any]:
        value = self.fields.get(name) or []
        if not isinstance(value, list):
            raise invalid(name, value)
        return value


# A handler answers a dict (encoded with orjson) or the JSON body already encoded (large answers
# built without an intermediate dict per item).
Handler = Callable[[MlflowCall], dict[str, Any] | bytes]
Routes = list[tuple[str, str, Handler]]  # (HTTP method, path after the prefix, handler)


async def request_fields(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        fields: dict[str, Any] = {}
        for key in request.query_params:
            values = request.query_params.getlist(key)
            fields[key] = values if len(values) > 1 or key.endswith("_ids") else values[0]
        return fields
    body = await request.body()
    if len(body) > MAX_JSON:
        raise MlflowError(f"request body is {len(body)} bytes; the limit is {MAX_JSON}")
    try:
        fields = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as err:
        raise MlflowError(f"request body is not valid JSON: {err}") from None
    if not isinstance(fields, dict):
        raise MlflowError("request body must be a JSON object")
    return fields


def mount(app: FastAPI, base: LocalTransport, auth: Authenticator, routes: Routes) -> None:
    """Publish each handler at ``/api/2.0/mlflow<path>`` and ``/ajax-api/2.0/mlflow<path>``."""
    for method, path, handler in routes:
        endpoint = _endpoint(base, auth, handler)
        for prefix in PREFIXES:
            app.add_api_route(prefix + path, endpoint, methods=[method], include_in_schema=False,  # MLflow's protos describe it
                              name=f"mlflow{path}:{method}:{prefix}", tags=["mlflow"])


def mount_fallback(app: FastAPI) -> None:
    """Any other MLflow path answers ENDPOINT_NOT_FOUND in MLflow's shape (mount it last)."""
    async def unknown(request: Request, rest: str) -> Response:
        return error_body(MlflowError(f"{request.method} {request.url.path} is not supported by Slipway's MLflow API "
                                      "(see docs/mlflow.md)", "ENDPOINT_NOT_FOUND", 404))

    for prefix in (*PREFIXES, "/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts", "/api/3.0/mlflow", "/ajax-api/3.0/mlflow"):
        app.add_api_route(prefix + "/{rest:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                          include_in_schema=False)


def _answer(handler: Handler, base: LocalTransport, auth: Authenticator, headers: Headers,
            fields: dict[str, Any] | MlflowError) -> bytes:
    # Encoded in the worker thread too, so a large answer does not hold up the event loop.
    principal = auth.principal_for(headers.get("authorization"))
    if isinstance(fields, MlflowError):
        raise fields
    result = handler(MlflowCall(base, principal, fields, headers.get(PROJECT_HEADER) or None))
    return result if isinstance(result, bytes) else orjson.dumps(result)


def _endpoint(base: LocalTransport, auth: Authenticator,
              handler: Handler) -> Callable[[Request], Any]:
    async def serve(request: Request) -> Response:
        try:
            try:
                fields: dict[str, Any] | MlflowError = {**await request_fields(request), **request.path_params}
            except MlflowError as error:  # reported after the caller's check, as before
                fields = error
            # One hop to a worker thread for the caller's check, the handler and the encoding: on a
            # busy machine each hop waits for the scheduler.
            body = await run_in_threadpool(_answer, handler, base, auth, request.headers, fields)
        except Exception as error:  # every failure leaves as an MLflow error body
            return error_body(error)
        return Response(body, media_type="application/json")

    return serve
