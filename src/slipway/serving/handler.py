"""One inference request from body to response: parse, route, decode, predict, encode, record.

The inference POSTs are answered on the ASGI interface itself (:meth:`InferenceHandler.answer`
reads the body with ``receive``, an :class:`Answer` sends the head and the body with ``send``):
no Starlette ``Request``, ``Headers``, ``Response`` or ``BackgroundTask`` is built per request.
Recording (counters, Prometheus, payload log, batch metrics) and shadow mirroring happen after
the answer is sent and never delay it: they run once its last byte is written, still inside the
request (so an in-process client sees them done), shadows as separate tasks, and the payload log
is a list append.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from slipway.core.errors import InvalidInput, NotFound, SlipwayError
from slipway.serving.frame import Frame
from slipway.serving.model import ModelError
from slipway.serving.payload import PayloadEntry
from slipway.serving.protocol_rows import decode_invocations, decode_v1
from slipway.serving.protocol_v2 import (
    decode_infer_request,
    encode_binary_response,
    encode_infer_response,
    inline_binary_inputs,
    wants_binary_output,
)
from slipway.serving.router import Router, VariantRuntime
from slipway.serving.runtime import ServerRuntime

_JSON = "application/json"
_CONTENT_TYPE = (b"content-type", b"application/json")


def _error(message: str, status: int) -> Response:
    return Response(orjson.dumps({"error": message}), status, media_type=_JSON)


def _dumps(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=lambda v: v.tolist())


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case, as ASGI servers give header names)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


class Answer:
    """A JSON answer as an ASGI app: the head (with the given extra headers) and the body in two
    ``send`` calls, then ``after`` (the request's recording), once the body is written."""

    __slots__ = ("after", "body", "content_type", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None,
                 after: Callable[[], None] | None = None, content_type: tuple[bytes, bytes] = _CONTENT_TYPE) -> None:
        self.status = status
        self.body = body
        self.headers = headers
        self.after = after
        self.content_type = content_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", str(len(self.body)).encode("latin-1")), self.content_type]
        if self.headers:
            headers += self.headers
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})
        if self.after is not None:
            self.after()


def _error_answer(message: str, status: int, scope: Scope | None = None) -> Answer:
    """An error answer; it echoes the caller's ``x-request-id`` when there is one."""
    given = _header(scope, b"x-request-id") if scope is not None else None
    headers = [(b"x-request-id", given[:100].encode("latin-1"))] if given else None
    return Answer(status, orjson.dumps({"error": message}), headers)


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

    async def _read_json(self, scope: Scope, receive: Receive, binary: bool = False) -> Any:
        """The request body, parsed; refused (413) as soon as it is over ``max_body_bytes``. With
        ``binary`` (v2 ``/infer``), a body whose ``Inference-Header-Content-Length`` header marks
        the end of its JSON has the binary tensor data after it, moved into the inputs' ``data``.

        Raises:
            InvalidInput: the body is not JSON, or its binary part does not match the inputs.
            ClientDisconnect: the client went away before sending all of it.
        """
        limit = self.runtime.options.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _TooLarge(f"the request body is {declared} bytes; the limit is {limit}")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge(f"the request body is over {limit} bytes; the limit is {limit}")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        json_length = _header(scope, b"inference-header-content-length") if binary else None
        if json_length is not None:
            if not json_length.isdigit() or int(json_length) > len(raw):
                raise InvalidInput(f"Inference-Header-Content-Length is {json_length!r}, but the body has {len(raw)} bytes")
            raw, tensors = raw[:int(json_length)], raw[int(json_length):]
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise InvalidInput(f"the request body is not valid JSON: {err}") from err
        if json_length is not None:
            inline_binary_inputs(body, tensors)
        return body

    async def _body(self, request: Request) -> Any:
        return await self._read_json(request.scope, request.receive)

    async def handle(self, request: Request, protocol: str, name: str | None, version: str | None) -> Answer:
        """The answer to an inference request that came through Starlette's routes."""
        return await self.answer(request.scope, request.receive, protocol, name, version)

    async def answer(self, scope: Scope, receive: Receive, protocol: str, name: str | None,
                     version: str | None) -> Answer:
        """Read, route, decode, predict and encode one inference request; the :class:`Answer` sends
        it and then records it. Errors the handler knows become 4xx/500 answers; anything else
        raises (the app answers it with a 500)."""
        started = time.perf_counter()
        try:
            router = self._router()
            body = await self._read_json(scope, receive, binary=protocol == "v2")
            pinned = router.find(name, version) if name is not None else None
            variant = pinned or router.choose(self._sticky_key(router, scope, body))
        except _TooLarge as err:
            return self._rejected(protocol, _error_answer(err.args[0], 413, scope))
        except InvalidInput as err:
            return self._rejected(protocol, _error_answer(err.message, 400, scope))
        except NotFound as err:
            return self._rejected(protocol, _error_answer(err.message, 404 if self.runtime.router is not None else 503,
                                                          scope))
        request_id = self._request_id(scope, body) or f"{self._id_prefix}{next(self._id_counter):016x}"
        model = variant.model
        metrics = variant.metrics
        metrics.in_flight.inc()
        frame: Frame | None = None
        outputs: np.ndarray | None = None
        status = 200
        content_type = _CONTENT_TYPE
        extra: list[tuple[bytes, bytes]] = []
        try:
            if protocol == "v2":
                frame, _, _ = decode_infer_request(body, model.signature)
            elif protocol == "v1":
                frame = decode_v1(body, model.signature)
            else:
                frame = decode_invocations(body, model.signature)
            outputs = await variant.batcher.predict(frame)
            if protocol == "v2" and wants_binary_output(body):
                payload, json_length = encode_binary_response(name or model.name, model.version, request_id, outputs)
                content_type = (b"content-type", b"application/octet-stream")
                extra = [(b"inference-header-content-length", str(json_length).encode())]
            elif protocol == "v2":
                payload = _dumps(encode_infer_response(name or model.name, model.version, request_id, outputs))
            else:
                payload = _dumps({"predictions": outputs})
        except InvalidInput as err:
            status, payload, content_type, extra = 400, orjson.dumps({"error": err.message}), _CONTENT_TYPE, []
        except ModelError as err:
            status, payload = 500, orjson.dumps({"error": err.message})
        except SlipwayError as err:
            status, payload = err.http_status, orjson.dumps({"error": err.message})
        finally:
            metrics.in_flight.dec()
        latency = time.perf_counter() - started
        headers = [(b"x-request-id", request_id.encode("latin-1")), (b"x-slipway-variant", variant.name_header),
                   (b"x-slipway-model-version", variant.version_header), *extra]
        after = functools.partial(self._after, router, variant, protocol, status, latency, request_id, frame,
                                  outputs, body)
        return Answer(status, payload, headers, after, content_type)

    def _rejected(self, protocol: str, answer: Answer) -> Answer:
        self.runtime.metrics.rejected.labels(protocol, str(answer.status)).inc()
        return answer

    def _after(self, router: Router, variant: VariantRuntime, protocol: str, status: int, latency: float,
               request_id: str, frame: Frame | None, outputs: np.ndarray | None, body: Any) -> None:
        """Recording and shadow mirroring, once the caller has its answer."""
        variant.batcher.record_batches()
        self._record(router, variant, protocol, status, latency, request_id, frame, outputs)
        if frame is not None and outputs is not None and router.shadows:
            for shadow in router.shadows:
                task = asyncio.create_task(self._mirror(router, shadow, body, protocol, request_id, outputs))
                self._shadow_tasks.add(task)
                task.add_done_callback(self._shadow_tasks.discard)

    def _sticky_key(self, router: Router, scope: Scope, body: Any) -> str | None:
        key = router.sticky_key
        if not key:
            return None
        value: Any = _header(scope, key.lower().encode("latin-1"))
        if value is None and isinstance(body, dict):
            value = body.get(key)
            parameters = body.get("parameters")
            if value is None and isinstance(parameters, dict):
                value = parameters.get(key)
        return None if value is None else str(value)

    @staticmethod
    def _request_id(scope: Scope, body: Any) -> str:
        """The caller's id, or "" when it gave none: a v2 body's ``id`` (the protocol answers with
        the request's own id), else the ``x-request-id`` header."""
        given = body["id"] if isinstance(body, dict) and isinstance(body.get("id"), str) and body["id"] else None
        given = given or _header(scope, b"x-request-id")
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
        shadow.batcher.record_batches()
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
