"""Asking a running folder watcher (``slipway data watch``) for a status, with the standard library only.

A watcher listens on a Unix socket named after the Slipway home and the folder it watches, in a
folder only its user can enter (``/tmp/slipway-<uid>/``: a Unix socket's path must stay short).
The request is one JSON line ``{"dataset": NAME, "store": IDENTITY or null}``; the answer is one JSON line, the status report
(``dataset, version, added, removed, changed``) or ``{"error": message}``; ``{"ping": true}`` is
answered with the watcher's ``pid`` and ``folder``, ``{"stop": true}`` stops it. Anything unexpected (no
watcher, a stale socket left by a killed one, an error) returns None and the caller computes the
status itself, so a watcher only ever makes ``data status`` faster, never different.
"""

from __future__ import annotations

import json
import os
import socket
import stat

TYPE_CHECKING = False  # no ``typing`` or ``pathlib`` at run time: see slipway.cli.quick
if TYPE_CHECKING:
    from typing import Any

TIMEOUT_S = 30.0  # a watcher re-hashing many changed files may take a while; never hang forever


def socket_folder() -> str:
    # /tmp rather than tempfile.gettempdir(): the path must be the same for every process of the
    # user whatever its TMPDIR, and watching is Linux-only anyway.
    return f"/tmp/slipway-{os.getuid()}"


def socket_path(home: str | os.PathLike[str], folder: str | os.PathLike[str]) -> str:
    """The socket of the watcher of ``folder`` for the Slipway home ``home``."""
    import blake3

    key = os.fsencode(os.path.realpath(home)) + b"\0" + os.fsencode(os.path.realpath(folder))
    return os.path.join(socket_folder(), f"watch-{blake3.blake3(key).hexdigest()[:32]}.sock")


def private_folder(path: str) -> bool:
    """Whether ``path`` is a folder owned by this user that nobody else may enter."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077 == 0


def request(home: str | os.PathLike[str], folder: str | os.PathLike[str], body: dict[str, Any]) -> dict[str, Any] | None:
    """Send one request to the watcher of ``folder``; its answer, or None when no watcher answers."""
    path = socket_path(home, folder)
    if not os.path.exists(path) or not private_folder(os.path.dirname(path)):
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(TIMEOUT_S)
            conn.connect(path)
            conn.sendall(json.dumps(body).encode() + b"\n")
            chunks: list[bytes] = []
            while not (chunks and chunks[-1].endswith(b"\n")):
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        answer = json.loads(b"".join(chunks))
    except (OSError, ValueError):
        return None  # no watcher behind the socket (killed), or a garbled answer
    return answer if isinstance(answer, dict) else None


def store_identity(store_uri: str, artifacts_uri: str, server_url: str) -> str:
    """What a watcher and its client must agree on besides the home: the stores they read."""
    return json.dumps([store_uri, artifacts_uri, server_url])


def settings_identity(settings: Any) -> str:
    """:func:`store_identity` of a :class:`slipway.core.settings.Settings`."""
    return store_identity(settings.resolved_store_uri, settings.resolved_artifacts_uri, settings.server_url)


def ask_watcher(home: str | os.PathLike[str], folder: str | os.PathLike[str], dataset: str,
                store: str | None = None) -> dict[str, Any] | None:
    """The watcher's status report for ``dataset`` against ``folder``, or None (no usable watcher).

    ``store`` is the caller's :func:`store_identity`, or None for the default stores inside
    ``home``; a watcher serving other stores does not answer.
    """
    answer = request(home, folder, {"dataset": dataset, "store": store})
    if answer is None or "error" in answer or "version" not in answer:
        return None
    return answer
