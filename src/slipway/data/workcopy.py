"""Working copies: what ``data get`` and ``data checkout`` may overwrite.

A file already at a destination is *versioned* when its bytes are in the artifact store (some
version, of any dataset, holds them, so ``get`` can bring them back); overwriting it loses
nothing. Anything else there (a file edited since it was fetched, never added, or a symlink or
folder where a file should go) is an *unversioned change*, and is only replaced with ``force``,
as ``dvc checkout`` and ``git checkout`` refuse to drop uncommitted work.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path

from slipway.blobs.store import BlobStore
from slipway.core.errors import Conflict
from slipway.core.hashing import hash_file


def current_digest(path: Path) -> str | None:
    """The digest of the regular file at ``path``; ``""`` for something else there (a symlink,
    a folder, a device); None when nothing is there."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return ""  # a file stands where a folder of ``path`` should be
    return hash_file(path) if stat.S_ISREG(info.st_mode) else ""


def unversioned_changes(blobs: BlobStore, planned: Iterable[tuple[Path, str | None]]) -> list[Path]:
    """The destinations among ``planned`` (path, digest to write there, or None to remove what
    is there) that hold bytes the store lacks and that the write would replace or remove."""
    found: dict[Path, str] = {}
    for path, wanted in planned:
        have = current_digest(path)
        if have is not None and have != wanted:
            found[path] = have
    digests = sorted({d for d in found.values() if d})
    missing = set(blobs.missing(digests)) if digests else set()
    return sorted(path for path, have in found.items() if not have or have in missing)


def refuse_unversioned(blobs: BlobStore, planned: Iterable[tuple[Path, str | None]], what: str) -> None:
    """Raise unless every file ``planned`` would replace or remove is versioned.

    Raises:
        Conflict: naming the first changed file and how many there are; nothing was written.
    """
    changed = unversioned_changes(blobs, planned)
    if changed:
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        raise Conflict(f"{changed[0]}{more} has changes that are not versioned; {what} would overwrite them. "
                       "Add them as a new version first, or pass --force (force=True) to discard them")

