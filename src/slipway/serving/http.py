"""uvicorn's httptools protocol, writing each small response as one TCP write instead of two.

uvicorn writes a response's head and its body with two ``transport.write`` calls. Over loopback
or a fast network each write is a segment that wakes the client, so a small JSON answer costs
two wake-ups and two context switches; on a busy machine that is most of a fast model's latency.
Here the head is held until the body's first write (in the same task step, for every
non-streaming response), and both go out in one write. A head whose body does not follow at once
(a HEAD request, a streaming response waiting for its first chunk, ``100 Continue``) is written at
the next turn of the event loop, before anything written after it, so order and content are
exactly uvicorn's. With the fast paths off (:mod:`slipway.core.fastpaths`) the server uses
uvicorn's own protocol.
"""

from __future__ import annotations

import asyncio
from typing import Any

_HOLD_MAX = 16 * 1024  # a head to hold back (heads are a few hundred bytes)
_JOIN_MAX = 64 * 1024  # past this, head and body go as two writes rather than one copy


class CoalescingTransport:
    """A transport proxy that joins a held response head with the write that follows it."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if len(held) + len(data) <= _JOIN_MAX:
                self._transport.write(held + bytes(data))
                return
            self._transport.write(held)
        elif len(data) <= _HOLD_MAX and bytes(data[-4:]) == b"\r\n\r\n":
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def writelines(self, list_of_data: Any) -> None:
        self.flush()
        self._transport.writelines(list_of_data)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def http_protocol(settings: Any = None) -> Any:
    """The protocol class for ``uvicorn.Config(http=...)``: httptools with coalesced writes, or
    ``"auto"`` (uvicorn's own) when httptools is not installed or the fast paths are off."""
    from slipway.core import fastpaths

    if not fastpaths.enabled(settings):
        return "auto"
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "auto"

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            fastpaths.took("serving.http")
            super().connection_made(CoalescingTransport(transport, asyncio.get_running_loop()))  # type: ignore[arg-type]

    return CoalescingHttpToolsProtocol
