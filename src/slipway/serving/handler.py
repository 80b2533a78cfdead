"""One inference request from body to response: parse, route, decode, predict, encode, record.

Recording (counters, Prometheus, payload log) and shadow mirroring happen after the answer is
sent and never delay it: they run as the response's background step (after its last byte is
written, still inside the request, so an in-process client sees them done), shadows as separate
tasks, and the payload log is a list append.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import numpy as np
import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from slipway.core.errors import InvalidInput, NotFound, SlipwayError
from slipway.serving.frame import Frame
from slipway.serving.model import ModelError
from slipway.serving.payload import PayloadEntry
from slipway.serving.protocol_rows import decode_invocations, decode_v1
from slipway.serving.protocol_v2 import decode_infer_request, encode_infer_response
from slipway.serving.router import Router, VariantRuntime
from slipway.serving.runtime import ServerRuntime

_JSON = "application/json"


def _error(message: str, status: int) -> Response:
    return Response(orjson.dumps({"error": message}), status, media_type=_JSON)


def _dumps(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=lambda v: v.tolist())


class InferenceHandler:
    def __init__(self, runtime: ServerRuntime) -> None:
        self.runtime = runtime
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        # Request ids: 32 hex digits like uuid4().hex, a random per-process half and a counter,
        # so a request does not pay for os.urandom.
        self._id_prefix = uuid.uuid4().hex[:16]
        self._id_counter = itertools.count(1)

    def _router(self) -> Router:
        router = self.runtime.router
        if router is None:
            raise NotFound("the server is still loading its models")
        return router

    def variant_for(self, name: str, version: str | None) -> VariantRuntime:
        router = self._router()
        return router.find(name, version) or router.production[0]

    async def _body(self, request: Request) -> Any:
        limit = self.runtime.options.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _TooLarge(f"the request body is {declared} bytes; the limit is {limit}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _TooLarge(f"the request body is over {limit} bytes; the limit is {limit}")
            chunks.append(chunk)
        try:
            return orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError as err:
            raise InvalidInput(f"the request body is not valid JSON: {err}") from err

    async def handle(self, request: Request, protocol: str, name: str | None, version: str | None) -> Response:
        started = time.perf_counter()
        try:
            router = self._router()
            body = await self._body(request)
            pinned = router.find(name, version) if name is not None else None
            variant = pinned or router.choose(self._sticky_key(router, request, body))
        except _TooLarge as err:
            return _error(err.args[0], 413)
        except InvalidInput as err:
            return _error(err.message, 400)
        except NotFound as err:
            return _error(err.message, 404 if self.runtime.router is not None else 503)
        request_id = self._request_id(request, body) or f"{self._id_prefix}{next(self._id_counter):016x}"
        model = variant.model
        metrics = variant.metrics
        metrics.in_flight.inc()
        frame: Frame | None = None
        outputs: np.ndarray | None = None
        status = 200
        try:
            if protocol == "v2":
                frame, _, _ = decode_infer_request(body, model.signature)
            elif protocol == "v1":
                frame = decode_v1(body, model.signature)
            else:
                frame = decode_invocations(body, model.signature)
            outputs = await variant.batcher.predict(frame)
            if protocol == "v2":
                payload = _dumps(encode_infer_response(name or model.name, model.version, request_id, outputs))
            else:
                payload = _dumps({"predictions": outputs})
            response = Response(payload, 200, media_type=_JSON)
        except InvalidInput as err:
            status, response = 400, _error(err.message, 400)
        except ModelError as err:
            status, response = 500, _error(err.message, 500)
        except SlipwayError as err:
            status, response = err.http_status, _error(err.message, err.http_status)
        finally:
            metrics.in_flight.dec()
        latency = time.perf_counter() - started
        response.raw_headers += [(b"x-request-id", request_id.encode("latin-1")),
                                 (b"x-slipway-variant", variant.name.encode("latin-1")),
                                 (b"x-slipway-model-version", variant.version_header)]
        response.background = BackgroundTask(self._after, router, variant, protocol, status, latency, request_id,
                                             frame, outputs, body)
        return response

    async def _after(self, router: Router, variant: VariantRuntime, protocol: str, status: int, latency: float,
                     request_id: str, frame: Frame | None, outputs: np.ndarray | None, body: Any) -> None:
        """Recording and shadow mirroring, once the caller has its answer."""
        self._record(router, variant, protocol, status, latency, request_id, frame, outputs)
        if frame is not None and outputs is not None and router.shadows:
            for shadow in router.shadows:
                task = asyncio.create_task(self._mirror(router, shadow, body, protocol, request_id, outputs))
                self._shadow_tasks.add(task)
                task.add_done_callback(self._shadow_tasks.discard)

    def _sticky_key(self, router: Router, request: Request, body: Any) -> str | None:
        key = router.sticky_key
        if not key:
            return None
        value = request.headers.get(key)
        if value is None and isinstance(body, dict):
            value = body.get(key)
            parameters = body.get("parameters")
            if value is None and isinstance(parameters, dict):
                value = parameters.get(key)
        return None if value is None else str(value)

    @staticmethod
    def _request_id(request: Request, body: Any) -> str:
        """The caller's id (header, or the v2 body's ``id``), or "" when it gave none."""
        given = request.headers.get("x-request-id")
        if not given and isinstance(body, dict) and isinstance(body.get("id"), str):
            given = body["id"]
        return given[:100] if given else ""

    def _record(self, router: Router, variant: VariantRuntime, protocol: str, status: int, latency: float,
                request_id: str, frame: Frame | None, outputs: np.ndarray | None) -> None:
        variant.metrics.count(protocol, status)
        variant.metrics.latency.observe(latency)
        if status >= 500 or status == 200:  # client mistakes are not the variant's errors
            variant.counters.observe(latency * 1000.0, status >= 500, outputs)
        payload = self.runtime.payload
        if payload is not None and frame is not None:
            entry = PayloadEntry(request_id, router.deployment, variant.name, variant.model.name,
                                 variant.model.version, frame, outputs, latency * 1000.0, status)
            if not payload.log(entry):
                self.runtime.metrics.payload_dropped.inc()
                task = asyncio.create_task(asyncio.to_thread(payload.wait_for_room))
                self._shadow_tasks.add(task)  # type: ignore[arg-type]
                task.add_done_callback(self._shadow_tasks.discard)  # type: ignore[arg-type]

    async def _mirror(self, router: Router, shadow: VariantRuntime, body: Any, protocol: str, request_id: str,
                      primary: np.ndarray) -> None:
        started = time.perf_counter()
        outputs: np.ndarray | None = None
        frame: Frame | None = None
        try:
            signature = shadow.model.signature
            if protocol == "v2":
                frame, _, _ = decode_infer_request(body, signature)
            elif protocol == "v1":
                frame = decode_v1(body, signature)
            else:
                frame = decode_invocations(body, signature)
            outputs = await shadow.batcher.predict(frame)
            status = 200
        except Exception:
            status = 500
        latency = time.perf_counter() - started
        shadow.metrics.latency.observe(latency)
        shadow.counters.observe(latency * 1000.0, status >= 500, outputs)
        if outputs is not None:
            shadow.counters.compare(outputs, primary)
        self.runtime.metrics.shadow.labels(*shadow.metrics.labels, "ok" if status == 200 else "error").inc()
        payload = self.runtime.payload
        if payload is not None and frame is not None:
            payload.log(PayloadEntry(request_id, router.deployment, shadow.name, shadow.model.name,
                                     shadow.model.version, frame, outputs, latency * 1000.0, status))

    async def feedback(self, request: Request) -> Response:
        """``{"request_id": ..., "label": ...}`` or ``{"feedback": [...]}`` (a list of those)."""
        try:
            body = await self._body(request)
        except _TooLarge as err:
            return _error(err.args[0], 413)
        except InvalidInput as err:
            return _error(err.message, 400)
        items = body.get("feedback") if isinstance(body, dict) and "feedback" in body else (
            [body] if isinstance(body, dict) else body)
        router = self._router()
        try:
            count = await asyncio.to_thread(self.runtime.workspace.serving.add_feedback, router.deployment, items)
        except InvalidInput as err:
            return _error(err.message, 400)
        return Response(orjson.dumps({"accepted": count}), 200, media_type=_JSON)


class _TooLarge(Exception):
    pass
