"""What a run records about where it ran: the git commit, whether the tree was dirty, and a
digest of the installed packages (so two runs with the same digest had the same environment)."""

from __future__ import annotations

import functools
import subprocess
import sys
from importlib import metadata

from slipway.core.hashing import hash_bytes


@functools.cache
def packages_lock() -> str:
    """``name==version`` of every installed distribution, sorted, one per line."""
    lines = sorted({f"{(d.metadata['Name'] or '').lower()}=={d.version}" for d in metadata.distributions()})
    return "\n".join(line for line in lines if not line.startswith("=="))


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
    return " ".join(sys.argv)[:500] if sys.argv and sys.argv[0] else "interactive"
