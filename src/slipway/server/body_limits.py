"""Request bodies bounded before they are read.

An ASGI middleware: a request whose ``Content-Length`` is over the limit is answered 413 at once,
without reading a byte of its body; a body without a length (chunked) is counted as it streams,
and the read that crosses the limit raises :class:`PayloadTooLarge` (413) in the endpoint that
reads it. Blob uploads (``PUT /api/v1/blobs/…``) have their own, larger limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.core.errors import InvalidInput, PayloadTooLarge
from slipway.core.records import dumps


class BodyLimit:
    """Refuse request bodies over ``max_request_bytes`` (``max_upload_bytes`` for blob uploads)."""

    def __init__(self, app: ASGIApp, max_request_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "PUT" and scope["path"].startswith("/api/v1/blobs/")
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
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"{what} is over the server's limit of {limit} bytes")
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # ASCII digits only: str.isdigit() accepts "²", which int() refuses.
            if not text or not text.isascii() or not text.isdigit():
                raise InvalidInput(f"Content-Length {text[:40]!r} is not a number of bytes")
            return int(text)
    return None


async def _refuse(send: Send, error: InvalidInput) -> None:
    body = dumps({"error": error.to_dict()})
    await send({"type": "http.response.start", "status": error.http_status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
