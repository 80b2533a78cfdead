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
import logging
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
from slipway.serving.answered import AnsweredRing
from slipway.serving.features import Enriched, FeatureUnavailable
from slipway.serving.frame import Frame
from slipway.serving.model import ModelError
from slipway.serving.payload import PayloadEntry
from slipway.serving.protocol_rows import decode_invocations, decode_v1, invocation_method
from slipway.serving.protocol_v2 import (
    PROBA_NAMES,
    binary_outputs,
    decode_infer_request,
    encode_binary_response,
    encode_infer_response,
    requested_outputs,
    response_id,
)
from slipway.serving.request_body import TooLarge, UnsupportedMedia, header, parse, read_raw
from slipway.serving.router import Router, VariantRuntime
from slipway.serving.runtime import ServerRuntime

log = logging.getLogger("slipway.serving")
_JSON = "application/json"
_CONTENT_TYPE = (b"content-type", b"application/json")


def _error(message: str, status: int) -> Response:
    return Response(orjson.dumps({"error": message}), status, media_type=_JSON)


def _dumps(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=lambda v: v.tolist())


# What a status means for the variant's counters when the answer could not be delivered: the
# client went away (it is not the model's error), or the server failed to send it (it is).
CLIENT_GONE = 499


class Answer:
    """A JSON answer as an ASGI app: the head (with the given extra headers) and the body in two
    ``send`` calls, then ``after`` (the request's recording) with the status delivered, once the
    body is written, or with 499 (client gone) or 500 (the send failed) when it could not be."""

    __slots__ = ("after", "body", "content_type", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None,
                 after: Callable[[int], None] | None = None, content_type: tuple[bytes, bytes] = _CONTENT_TYPE) -> None:
        self.status = status
        self.body = body
        self.headers = headers
        self.after = after
        self.content_type = content_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", str(len(self.body)).encode("latin-1")), self.content_type]
        if self.headers:
            headers += self.headers
        try:
            await send({"type": "http.response.start", "status": self.status, "headers": headers})
            await send({"type": "http.response.body", "body": self.body})
        except (OSError, ClientDisconnect):
            if self.after is not None:
                self.after(CLIENT_GONE)
            return
        except Exception:
            if self.after is not None:
                self.after(500)
            raise
        if self.after is not None:
            self.after(self.status)


class _Gone:
    """Nothing to send: the client went away before its request was read."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


def _error_answer(message: str, status: int, scope: Scope | None = None) -> Answer:
    """An error answer; it echoes the caller's ``x-request-id`` when there is one."""
    given = header(scope, b"x-request-id") if scope is not None else None
    headers = [(b"x-request-id", given.encode("latin-1"))] if given else None
    return Answer(status, orjson.dumps({"error": message}), headers)


class InferenceHandler:
    def __init__(self, runtime: ServerRuntime) -> None:
        self.runtime = runtime
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        # Request ids: 32 hex digits like uuid4().hex, a random per-process half and a counter,
        # so a request does not pay for os.urandom.
        self._id_prefix = uuid.uuid4().hex[:16]
        self._id_counter = itertools.count(1)
        # Which variant answered each recent request, so feedback is counted per variant.
        self._answered = AnsweredRing()

    def _router(self) -> Router:
        router = self.runtime.router
        if router is None:
            raise NotFound("the server is still loading its models")
        return router

    def variant_for(self, name: str, version: str | None) -> VariantRuntime:
        router = self._router()
        return router.find(name, version) or router.production[0]

    async def _read_json(self, scope: Scope, receive: Receive, binary: bool = False) -> Any:
        """The request body, parsed (see :mod:`slipway.serving.request_body`)."""
        raw = await read_raw(scope, receive, self.runtime.options.max_body_bytes)
        return parse(raw, scope, binary)

    async def _body(self, request: Request) -> Any:
        return await self._read_json(request.scope, request.receive)

    async def handle(self, request: Request, protocol: str, name: str | None, version: str | None) -> Answer | _Gone:
        """The answer to an inference request that came through Starlette's routes."""
        return await self.answer(request.scope, request.receive, protocol, name, version)

    async def answer(self, scope: Scope, receive: Receive, protocol: str, name: str | None,
                     version: str | None) -> Answer | _Gone:
        """Read, route, decode, predict and encode one inference request; the :class:`Answer` sends
        it and then records it. Errors the handler knows become 4xx/500 answers, and every answer
        is counted: in the variant's metrics once a variant is chosen, else as rejected."""
        started = time.perf_counter()
        try:
            router = self._router()
            raw = await read_raw(scope, receive, self.runtime.options.max_body_bytes)
            body = parse(raw, scope, protocol == "v2", protocol == "invocations")
            given_id = response_id(body) if protocol == "v2" else None
            pinned = router.find(name, version) if name is not None else None
            variant = pinned or router.choose(self._sticky_key(router, scope, body))
        except ClientDisconnect:
            # A client that goes away mid-body is routine, not a server error: counted, no traceback.
            log.debug("client disconnected before sending its whole %s request", protocol)
            self.runtime.metrics.rejected.labels(protocol, str(CLIENT_GONE)).inc()
            return _Gone()
        except TooLarge as err:
            return self._rejected(protocol, _error_answer(err.args[0], 413, scope))
        except UnsupportedMedia as err:
            return self._rejected(protocol, _error_answer(err.args[0], 415, scope))
        except InvalidInput as err:
            return self._rejected(protocol, _error_answer(err.message, 400, scope))
        except NotFound as err:
            return self._rejected(protocol, _error_answer(err.message, 404 if self.runtime.router is not None else 503,
                                                          scope))
        request_id = given_id or header(scope, b"x-request-id") or f"{self._id_prefix}{next(self._id_counter):016x}"
        model = variant.model
        metrics = variant.metrics
        metrics.in_flight.inc()
        frame: Frame | None = None
        outputs: np.ndarray | None = None
        status = 200
        content_type = _CONTENT_TYPE
        extra: list[tuple[bytes, bytes]] = []
        names: list[str] = []
        enriched: Enriched | None = None
        try:
            if router.features is not None:  # the body has entity keys: look the features up
                enriched = await router.features.enrich(body, protocol)
                frame = enriched.frame_for(model.signature)
            if protocol == "v2":
                if frame is None:
                    frame, _, _ = decode_infer_request(body, model.signature)
                names = requested_outputs(body, model.proba_classes is not None, tuple(model.named_outputs))
                binary = binary_outputs(body, names)
            elif protocol == "v1":
                frame, names = frame if frame is not None else decode_v1(body, model.signature), ["predict"]
            else:
                if frame is None:
                    frame = decode_invocations(body, model.signature)
                names = [invocation_method(body)]
                if names == ["predict_proba"] and model.proba_classes is None:
                    raise InvalidInput(f"model {model.name} version {model.version} has no predict_proba")
            model.check(frame)
            predictions = await variant.batcher.predict(frame) if "predict" in names else None
            proba = await variant.batcher.call(model.predict_proba, frame) if any(
                n in PROBA_NAMES for n in names) else None
            outputs = predictions if predictions is not None else proba
            extra_names = [n for n in names if n in model.named_outputs]
            named = await variant.batcher.call(functools.partial(model.predict_outputs, names=extra_names),
                                               frame) if extra_names else {}
            if outputs is None and extra_names:
                outputs = named[extra_names[0]]
            if protocol == "v2":
                tensors = [(n, named.get(n, predictions if n == "predict" else proba)) for n in names]
                answer_id = given_id if given_id is not None else request_id
                if binary:
                    payload, json_length = encode_binary_response(name or model.name, model.version, answer_id,
                                                                  tensors, binary)  # type: ignore[arg-type]
                    content_type = (b"content-type", b"application/octet-stream")
                    extra = [(b"inference-header-content-length", str(json_length).encode())]
                else:
                    payload = _dumps(encode_infer_response(name or model.name, model.version, answer_id,
                                                           tensors))  # type: ignore[arg-type]
            else:
                payload = _dumps({"predictions": outputs})
        except InvalidInput as err:
            status, payload, content_type, extra, outputs = 400, orjson.dumps({"error": err.message}), _CONTENT_TYPE, [], None
        except FeatureUnavailable as err:
            status, payload, content_type, extra, outputs = 422, orjson.dumps({"error": err.message}), _CONTENT_TYPE, [], None
        except ModelError as err:
            status, payload, outputs = 500, orjson.dumps({"error": err.message}), None
        except SlipwayError as err:
            status, payload, outputs = err.http_status, orjson.dumps({"error": err.message}), None
        except Exception as err:  # e.g. outputs that cannot be encoded: the variant's error, counted
            log.exception("unexpected error answering a %s request", protocol)
            status, payload, content_type, extra, outputs = 500, orjson.dumps(
                {"error": f"internal server error: {type(err).__name__}"}), _CONTENT_TYPE, [], None
        finally:
            metrics.in_flight.dec()
        latency = time.perf_counter() - started
        payload_log = self.runtime.payload
        if payload_log is not None and frame is not None:
            # Written ahead (to the local spool) before the caller has its answer, so a kill after
            # this cannot lose it (see payload.PayloadLogger.log).
            self._log(payload_log, PayloadEntry(request_id, router.deployment, variant.name, model.name,
                                                model.version, enriched.logged() if enriched is not None else frame,
                                                outputs, latency * 1000.0, status))
        headers = [(b"x-request-id", request_id.encode("latin-1")), (b"x-slipway-variant", variant.name_header),
                   (b"x-slipway-model-version", variant.version_header), *extra]
        predicted = outputs if "predict" in names else None  # what the counters and shadows compare
        after = functools.partial(self._after, router, variant, protocol, latency, request_id, frame, predicted, body,
                                  enriched=enriched)
        return Answer(status, payload, headers, after, content_type)

    def _rejected(self, protocol: str, answer: Answer) -> Answer:
        self.runtime.metrics.rejected.labels(protocol, str(answer.status)).inc()
        return answer

    def _log(self, payload: Any, entry: PayloadEntry) -> None:
        if not payload.log(entry):
            self.runtime.metrics.payload_dropped.inc()
            task = asyncio.create_task(asyncio.to_thread(payload.wait_for_room))
            self._shadow_tasks.add(task)
            task.add_done_callback(self._shadow_tasks.discard)

    def _after(self, router: Router, variant: VariantRuntime, protocol: str, latency: float, request_id: str,
               frame: Frame | None, outputs: np.ndarray | None, body: Any, status: int, *,
               enriched: Enriched | None = None) -> None:
        """Recording and shadow mirroring, once the caller has its answer (``status``: what was
        delivered, 499 if the client went away first)."""
        variant.batcher.record_batches()
        self._record(variant, protocol, status, latency, outputs)
        if status == 200:
            self._answered.add(request_id, variant.metrics.labels)
        if frame is not None and outputs is not None and status == 200 and router.shadows:
            for shadow in router.shadows:
                task = asyncio.create_task(self._mirror(router, shadow, body, protocol, request_id, outputs, enriched))
                self._shadow_tasks.add(task)
                task.add_done_callback(self._shadow_tasks.discard)

    def _sticky_key(self, router: Router, scope: Scope, body: Any) -> str | None:
        key = router.sticky_key
        if not key:
            return None
        value: Any = header(scope, key.lower().encode("latin-1"))
        if value is None and isinstance(body, dict):
            value = body.get(key)
            parameters = body.get("parameters")
            if value is None and isinstance(parameters, dict):
                value = parameters.get(key)
        return None if value is None else str(value)

    def _record(self, variant: VariantRuntime, protocol: str, status: int, latency: float,
                outputs: np.ndarray | None) -> None:
        variant.metrics.count(protocol, status)
        variant.metrics.latency.observe(latency)
        if status >= 500 or status == 200:  # client mistakes (and clients gone) are not the variant's errors
            variant.counters.observe(latency * 1000.0, status >= 500, outputs if status == 200 else None)

    async def _mirror(self, router: Router, shadow: VariantRuntime, body: Any, protocol: str, request_id: str,
                      primary: np.ndarray, enriched: Enriched | None = None) -> None:
        started = time.perf_counter()
        outputs: np.ndarray | None = None
        frame: Frame | None = None
        try:
            signature = shadow.model.signature
            if enriched is not None:  # the features the primary saw, not a second lookup
                frame = enriched.frame_for(signature)
            elif protocol == "v2":
                frame, _, _ = decode_infer_request(body, signature)
            elif protocol == "v1":
                frame = decode_v1(body, signature)
            else:
                frame = decode_invocations(body, signature)
            shadow.model.check(frame)
            outputs = await shadow.batcher.predict(frame)
            status = 200
        except InvalidInput:
            status = 400
        except Exception:
            status = 500
        shadow.batcher.record_batches()
        latency = time.perf_counter() - started
        shadow.metrics.latency.observe(latency)
        if status != 400:
            shadow.counters.observe(latency * 1000.0, status >= 500, outputs)
        if outputs is not None:
            shadow.counters.compare(outputs, primary)
        self.runtime.metrics.shadow.labels(*shadow.metrics.labels, "ok" if status == 200 else "error").inc()
        payload = self.runtime.payload
        if payload is not None and frame is not None:
            payload.log(PayloadEntry(request_id, router.deployment, shadow.name, shadow.model.name,
                                     shadow.model.version, enriched.logged() if enriched is not None else frame,
                                     outputs, latency * 1000.0, status))

    async def feedback(self, request: Request) -> Response:
        """``{"request_id": ..., "label": ...}`` or ``{"feedback": [...]}`` (a list of those)."""
        try:
            body = await self._body(request)
        except ClientDisconnect:
            self.runtime.metrics.rejected.labels("feedback", str(CLIENT_GONE)).inc()
            return Response(b"", 400)
        except TooLarge as err:
            return _error(err.args[0], 413)
        except UnsupportedMedia as err:
            return _error(err.args[0], 415)
        except InvalidInput as err:
            return _error(err.message, 400)
        items = body.get("feedback") if isinstance(body, dict) and "feedback" in body else (
            [body] if isinstance(body, dict) else body)
        router = self._router()
        try:
            count = await asyncio.to_thread(self.runtime.workspace.serving.add_feedback, router.deployment, items)
        except InvalidInput as err:
            return _error(err.message, 400)
        live = self.runtime.router or router  # the revision now being served (it may have changed meanwhile)
        current = {(v.name, str(v.model.version)): v for v in live.variants}
        items = items or []
        ids = [str(item.get("request_id")) if isinstance(item, dict) else "" for item in items]
        for item, labels in zip(items, self._answered.find(ids), strict=True):
            if labels is not None:
                label = item.get("label")
                self.runtime.metrics.feedback.labels(*labels, str(int(label)) if isinstance(label, bool) else
                                                     str(label)).inc()
                # The canary controller's click-through counts: against the variant that answered,
                # in the current revision's counters (feedback arriving after a step change counts
                # towards the new step of the same variant and version).
                answered = current.get((labels[1], str(labels[3])))
                if answered is not None:
                    answered.counters.label(label)
        return Response(orjson.dumps({"accepted": count}), 200, media_type=_JSON)

