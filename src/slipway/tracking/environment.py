"""What a run records about where it ran: the git commit, whether the tree was dirty, and a
digest of the installed packages (so two runs with the same digest had the same environment)."""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from slipway.core.files import write_atomically
from slipway.core.hashing import hash_bytes


def _installed_fingerprint() -> str:
    """Changes whenever a package is installed, upgraded or removed: installing adds or removes a
    ``*.dist-info`` folder, which changes the modification time of the folder on ``sys.path``."""
    parts = [sys.executable]
    for entry in sys.path:
        with contextlib.suppress(OSError):
            if os.path.isdir(entry):
                parts.append(f"{entry}:{os.stat(entry).st_mtime_ns}")
    return hash_bytes("\n".join(parts).encode())[:24]


@functools.cache
def packages_lock() -> str:
    """``name==version`` of every installed distribution, sorted, one per line.

    Reading every distribution's metadata takes over a second in a large environment, and every
    new process that starts a run needs it, so the result is cached in a file keyed by
    :func:`_installed_fingerprint` (written atomically; a stale or unreadable cache is recomputed).
    """
    cache = Path(tempfile.gettempdir()) / f"slipway-packages-{os.getuid()}-{_installed_fingerprint()}.txt"
    with contextlib.suppress(OSError):
        return cache.read_text()
    lines = sorted({f"{(d.metadata['Name'] or '').lower()}=={d.version}" for d in metadata.distributions()})
    text = "\n".join(line for line in lines if not line.startswith("=="))
    with contextlib.suppress(OSError):
        write_atomically(cache, text)
    return text


def packages_digest() -> str:
    return hash_bytes(packages_lock().encode())


def git_state(path: str = ".") -> tuple[str | None, bool | None]:
    """The commit checked out at ``path`` and whether the work tree has changes; (None, None)
    outside a git repository."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=path,
                                capture_output=True, text=True, timeout=10)
        return commit.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def entry_point() -> str:
    """The command line that started this process, quoted so that it splits back into the same
    arguments; a script's path is made absolute so that it is found again from any folder."""
    if not sys.argv or not sys.argv[0]:
        return "interactive"
    argv = list(sys.argv)
    if argv[0] != "-c" and os.path.isfile(argv[0]):
        argv[0] = os.path.abspath(argv[0])
    return shlex.join(argv)
