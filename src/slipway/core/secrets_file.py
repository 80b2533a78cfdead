"""A secret kept in a file of ``SLIPWAY_HOME`` (owner-only), created once by whoever needs it first."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def home_secret(path: Path, make: Callable[[], bytes]) -> bytes:
    """The secret in ``path``, written with ``make()`` (mode 0600) if the file does not exist yet.

    Creation uses O_EXCL, so two processes starting together agree on one secret; an empty file
    (a creator killed between create and write) is removed and the secret made again.
    """
    while True:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(make())
                    handle.flush()
                    os.fsync(handle.fileno())
            except FileExistsError:
                pass
        value = path.read_bytes().strip()
        if value:
            return value
        path.unlink(missing_ok=True)
