"""The address a server command listens on, checked before it says it is serving.

``slipway serve``, ``slipway server`` and ``slipway features serve`` each bind a port. Without a
check first, a port out of range or already in use surfaced after the "serving on …" line, as a
uvicorn log line with exit code 3 (or, for a port above 65535, a server that said it listened on
a port no client can reach). Here it is one line and exit code 2, before anything starts.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from slipway.cli.output import fail
from slipway.core.errors import Conflict, InvalidInput


def check_listen_address(host: str, port: int, workers: int = 1) -> None:
    """Refuse a port outside 1 to 65535, fewer than one worker, an unknown host or an address in use.

    Bind and release ``host:port`` once (with ``SO_REUSEADDR``, as uvicorn binds), so a second
    server on the same port is refused here rather than by the server after its banner.
    """
    if workers < 1 or not 0 < port < 65536:
        fail(InvalidInput(f"--workers must be at least 1 and --port from 1 to 65535 (got {workers}, {port})"))
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        fail(InvalidInput(f"cannot listen on {host}:{port}: {err.strerror}"))
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            fail(Conflict(f"cannot listen on {host}:{port}: {err.strerror or err}"))


def announce_when_listening(host: str, port: int, message: str, say: Callable[[str], None]) -> None:
    """Call ``say(message)`` once ``host:port`` accepts connections, from a daemon thread: a script
    that starts the server in the background and waits for its line can call it straight away
    (printed before the server started, the line came a few seconds before the port answered)."""
    target = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host

    def wait() -> None:
        while True:
            try:
                with socket.create_connection((target, port), timeout=1):
                    say(message)
                    return
            except OSError:
                time.sleep(0.1)

    threading.Thread(target=wait, name="slipway-announce", daemon=True).start()
