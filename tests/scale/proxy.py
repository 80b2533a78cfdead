"""A TCP proxy on loopback that loses the server's answer to chosen requests: the request reaches
the server (which commits it), then the connection to the client is cut before any byte of the
response is passed on, as when a load balancer or a network drops a connection mid-call."""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from urllib.parse import urlsplit


class DroppingProxy:
    def __init__(self, upstream: str, drop_path: str, drops: int = 1) -> None:
        assert drop_path.startswith("/") and drops >= 1, "drop_path is a URL path and drops at least one answer"
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.drop_path = drop_path.encode()
        self.remaining = drops
        self.dropped = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> DroppingProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            state = {"drop": False}
            threading.Thread(target=self._requests, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._responses, args=(upstream, client, state), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket, state: dict[str, bool]) -> None:
        with contextlib.suppress(OSError):
            while chunk := client.recv(65536):
                with self._lock:
                    if self.drop_path in chunk and self.remaining > 0:
                        self.remaining -= 1
                        state["drop"] = True
                upstream.sendall(chunk)
        _close(client, upstream)

    def _responses(self, upstream: socket.socket, client: socket.socket, state: dict[str, bool]) -> None:
        with contextlib.suppress(OSError):
            while chunk := upstream.recv(65536):
                if state["drop"]:
                    with self._lock:
                        self.dropped += 1
                    break
                client.sendall(chunk)
        _close(client, upstream)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
