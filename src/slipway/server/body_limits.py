"""Request bodies bounded before they are read.

An ASGI middleware: a request whose ``Content-Length`` is over the limit is answered 413 at once,
without reading a byte of its body; a body without a length (chunked) is counted as it streams,
and the read that crosses the limit raises :class:`PayloadTooLarge` (413) in the endpoint that
reads it. Blob uploads (``PUT /api/v1/blobs/…``) and the parts of MLflow multipart uploads have
their own, larger limit.

A JSON body is held in memory until its endpoint has parsed it, so many large bodies at once
would add up: the bytes of bodies over :data:`SMALL_BODY` that are being received or handled are
counted across requests, and a request that would take the total over the budget
(:data:`BUDGET_FACTOR` times ``max_request_bytes``) is answered 503 at once (a client retries
later). Small bodies are never refused for it, and uploads stream to disk, so neither counts.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.core.errors import BackendUnavailable, InvalidInput, PayloadTooLarge, SlipwayError
from slipway.core.records import dumps

SMALL_BODY = 1024 * 1024
# PUTs streamed to disk: blob uploads, MLflow artifact uploads (the client sends files up to 500 MB
# in one PUT unless multipart is switched on) and the parts of MLflow multipart uploads
# (server/mlflow/multipart.py).
UPLOAD_PATHS = ("/api/v1/blobs/", "/api/2.0/mlflow-artifacts/artifacts/", "/ajax-api/2.0/mlflow-artifacts/artifacts/",
                "/api/2.0/mlflow-artifacts/mpu/parts/", "/ajax-api/2.0/mlflow-artifacts/mpu/parts/")
BUDGET_FACTOR = 4


class BodyLimit:
    """Refuse request bodies over ``max_request_bytes`` (``max_upload_bytes`` for blob uploads)."""

    def __init__(self, app: ASGIApp, max_request_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_upload_bytes = max_upload_bytes
        self.budget = BUDGET_FACTOR * max_request_bytes
        self.in_flight = 0  # bytes of large JSON bodies being received or handled (one event loop: no lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "PUT" and scope["path"].startswith(UPLOAD_PATHS)
        limit = self.max_upload_bytes if upload else self.max_request_bytes
        what = "an upload" if upload else "a request body"
        try:
            declared = _content_length(scope)
        except InvalidInput as err:
            await _refuse(send, err)
            return
        if declared is not None and declared > limit:
            await _refuse(send, PayloadTooLarge(
                f"{what} of {declared} bytes is over the server's limit of {limit} bytes"
                + ("" if not upload else " (setting max_upload_bytes)")))
            return
        received = reserved = 0
        if not upload and declared is not None and declared > SMALL_BODY:
            if self.in_flight + declared > self.budget:
                await _refuse(send, self._busy())
                return
            self.in_flight += declared
            reserved = declared

        async def counted() -> Message:
            nonlocal received, reserved
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"{what} is over the server's limit of {limit} bytes")
                if not upload and received > max(reserved, SMALL_BODY):
                    if self.in_flight + received - reserved > self.budget:
                        raise self._busy()
                    self.in_flight += received - reserved
                    reserved = received
            return message

        try:
            await self.app(scope, counted, send)
        finally:
            self.in_flight -= reserved

    def _busy(self) -> BackendUnavailable:
        return BackendUnavailable(f"the server is already receiving {self.in_flight} bytes of large request bodies "
                                  f"(its budget is {self.budget}); retry shortly")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # ASCII digits only: str.isdigit() accepts "²", which int() refuses.
            if not text or not text.isascii() or not text.isdigit():
                raise InvalidInput(f"Content-Length {text[:40]!r} is not a number of bytes")
            return int(text)
    return None


async def _refuse(send: Send, error: SlipwayError) -> None:
    body = dumps({"error": error.to_dict()})
    await send({"type": "http.response.start", "status": error.http_status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
