"""Writing a file whole or not at all.

Every file Slipway replaces in place (pointer files, snapshots, caches, reports, checkpoints) is
written to a temporary file of its own in the same folder and renamed over the target, so a
reader sees the old bytes or the new ones, never half, and a process killed mid-write leaves the
target as it was. The temporary name is unique per call (``mkstemp``), not per process: two
threads of one process writing the same target at once must not rename each other's file away.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: str | os.PathLike[str], data: bytes | str, *, durable: bool = False,
                     mode: int | None = None) -> Path:
    """Replace ``path`` with ``data`` (text is written as UTF-8).

    Args:
        durable: ``fsync`` the bytes before the rename (for records a power cut must not empty).
        mode: the file's permission bits; ``mkstemp``'s 0600 when not given.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data.encode() if isinstance(data, str) else data)
            if mode is not None:
                os.fchmod(out.fileno(), mode)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target
