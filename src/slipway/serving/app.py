"""The inference server's ASGI app: Open Inference Protocol v2, KServe v1, MLflow ``/invocations``,
feedback, health and Prometheus metrics.

Errors are ``{"error": "..."}`` bodies: 400 for a malformed or mismatched request, 404 for an
unknown model, 413 for an oversized body, 500 when the model itself raised (the server keeps
serving), 503 before the models are loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from slipway.core import fastpaths
from slipway.core.errors import InvalidInput, NotFound, SlipwayError
from slipway.core.scrape import scrape_allowed
from slipway.serving.handler import Answer, InferenceHandler, _Gone
from slipway.serving.protocol_v2 import model_metadata
from slipway.serving.request_body import header
from slipway.serving.runtime import ServerRuntime

if TYPE_CHECKING:
    from slipway.serving.auth import InferenceAuth

log = logging.getLogger("slipway.serving")
_JSON = "application/json"
SERVER_VERSION = "1"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=_fallback), status, headers,
                    media_type=_JSON)


def _fallback(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def error_response(message: str, status: int) -> Response:
    return Response(orjson.dumps({"error": message}), status, media_type=_JSON)


class InferenceApp(Starlette):
    """Starlette, with the inference POSTs dispatched before routing and middleware.

    ``POST /invocations`` and ``POST /v2/models/{name}[/versions/{v}]/infer`` go straight to the
    handler on the ASGI interface (it answers every error it knows itself; anything else gets the
    same 500 the exception handler gives); every other request takes Starlette's route table, as
    every request does with the fast paths off (:mod:`slipway.core.fastpaths`).
    """

    inference: Any = None  # async (scope, receive, protocol, name, version) -> handler.Answer
    on_error: Any = None
    auth: InferenceAuth | None = None  # with `serve --auth`: every request but health and metrics needs a token
    metrics_token = ""  # the Prometheus scrape token (settings.metrics_token); empty: /metrics is open
    fast_dispatch = True  # False with the fast paths off (slipway.core.fastpaths): every request is routed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/metrics" and not scrape_allowed(
                header(scope, b"authorization"), self.metrics_token):
            self.state.runtime.metrics.rejected.labels("metrics", "401").inc()
            await Answer(401, b'{"error":"/metrics needs the scrape token: Authorization: Bearer <metrics_token>"}',
                         [(b"www-authenticate", b"Bearer")])(scope, receive, send)
            return
        if self.auth is not None and scope["type"] == "http":
            denied = self.auth.denied(scope)
            if denied is not None:
                self.state.runtime.metrics.rejected.labels("auth", str(denied.status)).inc()
                await denied(scope, receive, send)
                return
        if self.fast_dispatch and scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            target = _inference_target(scope["path"])
            if target is not None:
                fastpaths.took("serving.dispatch")
                scope["app"] = self
                try:
                    answer = await self.inference(scope, receive, *target)
                except Exception as err:
                    answer = await self.on_error(Request(scope, receive, send), err)
                await answer(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _inference_target(path: str) -> tuple[str, str | None, str | None] | None:
    """(protocol, model name, version) for an inference path, None for any other path."""
    if path == "/invocations":
        return "invocations", None, None
    if not path.startswith("/v2/models/") or not path.endswith("/infer"):
        return None
    parts = path[len("/v2/models/"):-len("/infer")].split("/")
    if len(parts) == 1 and parts[0]:
        return "v2", parts[0], None
    if len(parts) == 3 and parts[0] and parts[1] == "versions" and parts[2]:
        return "v2", parts[0], parts[2]
    return None


def _protocol_of(path: str) -> str:
    """The ``protocol`` label of a request path, for the rejected-requests counter."""
    if path == "/invocations":
        return "invocations"
    if path.startswith("/v2/"):
        return "v2"
    if path.startswith("/v1/models/"):
        return "v1"
    return "feedback" if path.endswith("/feedback") else "other"


def create_inference_app(runtime: ServerRuntime) -> Starlette:
    """The ASGI app over ``runtime`` (its lifespan loads the models and starts background jobs)."""
    handler = InferenceHandler(runtime)

    async def live(_request: Request) -> Response:
        return json_response({"live": True})

    async def ready(_request: Request) -> Response:
        ok = runtime.router is not None
        return json_response({"ready": ok}, 200 if ok else 503)

    async def healthz(_request: Request) -> Response:
        return json_response({"status": "ok"})

    async def server_metadata(_request: Request) -> Response:
        return json_response({"name": "slipway", "version": SERVER_VERSION, "extensions": ["binary_tensor_data"]})

    async def model_meta(request: Request) -> Response:
        try:
            variant = handler.variant_for(request.path_params["name"], request.path_params.get("version"))
        except NotFound as err:
            return error_response(err.message, 404)
        model = variant.model
        output = None if model.output is None else (model.output.dtype, model.output.row_shape)
        return json_response(model_metadata(request.path_params["name"], model.version, model.signature, model.flavor,
                                            output, model.proba_classes, model.named_outputs))

    async def model_ready(request: Request) -> Response:
        try:
            handler.variant_for(request.path_params["name"], request.path_params.get("version"))
        except NotFound as err:
            return error_response(err.message, 404)
        return json_response({"name": request.path_params["name"], "ready": True})

    # Endpoints answer with a Response or the handler's Answer: both are ASGI apps, which is all
    # Starlette's routes call.
    async def v2_infer(request: Request) -> Response | Answer | _Gone:
        return await handler.handle(request, "v2", request.path_params["name"], request.path_params.get("version"))

    async def v1_predict(request: Request) -> Response | Answer | _Gone:
        name, _, verb = request.path_params["target"].rpartition(":")
        if verb != "predict" or not name:
            return error_response(f"unknown v1 action {request.path_params['target']!r}; use NAME:predict", 404)
        return await handler.handle(request, "v1", name, None)

    async def invocations(request: Request) -> Answer | _Gone:
        return await handler.handle(request, "invocations", None, None)

    async def v1_model_ready(request: Request) -> Response:
        # KServe v1: GET /v1/models/NAME is the model's readiness.
        try:
            handler.variant_for(request.path_params["target"], None)
        except NotFound as err:
            return error_response(err.message, 404)
        return json_response({"name": request.path_params["target"], "ready": True})

    async def v1_models(_request: Request) -> Response:
        router = runtime.router
        names = [] if router is None else sorted({router.deployment, *(m.name for m in router.models())})
        return json_response({"models": names})

    async def v1_live(_request: Request) -> Response:
        return json_response({"status": "alive"})  # KServe v1's server liveness

    async def version(_request: Request) -> Response:
        from importlib.metadata import version as installed

        return Response(installed("slipway"), media_type="text/plain")  # as MLflow's /version answers its own

    async def feedback(request: Request) -> Response:
        return await handler.feedback(request)

    async def metrics(_request: Request) -> Response:
        if runtime.options.metrics_dir:  # several workers: every worker's counts, added up
            from slipway.serving.shared_metrics import merged

            await runtime.share_metrics()
            return Response(await asyncio.to_thread(merged, runtime.options.metrics_dir),
                            media_type=CONTENT_TYPE_LATEST)
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/v2", server_metadata), Route("/v2/health/live", live), Route("/v2/health/ready", ready),
        Route("/v2/models/{name}", model_meta), Route("/v2/models/{name}/ready", model_ready),
        Route("/v2/models/{name}/versions/{version}", model_meta),
        Route("/v2/models/{name}/versions/{version}/ready", model_ready),
        Route("/v2/models/{name}/infer", v2_infer, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", v2_infer, methods=["POST"]),
        Route("/v1/models/{target}", v1_predict, methods=["POST"]), Route("/v1/models/{target}", v1_model_ready),
        Route("/v1/models", v1_models), Route("/", v1_live),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/v1/feedback", feedback, methods=["POST"]), Route("/feedback", feedback, methods=["POST"]),
        Route("/metrics", metrics), Route("/healthz", healthz), Route("/readyz", ready),
        Route("/ping", healthz), Route("/health", healthz), Route("/version", version),  # MLflow's scoring server
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = InferenceApp(routes=routes, lifespan=lifespan)
    app.state.runtime = runtime
    app.inference = handler.answer
    app.metrics_token = runtime.workspace.settings.metrics_token if runtime.workspace is not None else ""
    app.fast_dispatch = fastpaths.enabled(runtime.workspace.settings if runtime.workspace is not None else None)
    if runtime.options.auth:
        from slipway.serving.auth import InferenceAuth

        app.auth = InferenceAuth.for_workspace(runtime.workspace)

    async def on_error(request: Request, error: Exception) -> Response:
        # Every answer is counted: an error no handler answered has no variant, so it is a rejection.
        if isinstance(error, SlipwayError):
            status = 400 if isinstance(error, InvalidInput) else error.http_status
            runtime.metrics.rejected.labels(_protocol_of(request.url.path), str(status)).inc()
            return error_response(error.message, status)
        log.exception("unexpected error in the inference server")
        runtime.metrics.rejected.labels(_protocol_of(request.url.path), "500").inc()
        return error_response("internal server error", 500)

    async def on_http_error(_request: Request, error: Exception) -> Response:
        # An unknown path (404) or method (405): a JSON body like every other error here.
        status = getattr(error, "status_code", 500)
        response = error_response(str(getattr(error, "detail", "")) or "error", status)
        response.headers.update(getattr(error, "headers", None) or {})
        return response

    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_error)
    app.on_error = on_error
    return app
