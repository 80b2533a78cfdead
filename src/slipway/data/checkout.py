"""``data checkout``: make the working data match the pointer files of the current commit.

For each pointer (see :mod:`slipway.data.pointers`) the data path is brought to exactly the
version it names: changed files are rewritten, and for a folder, files the version does not hold
are removed. Only files whose bytes differ are touched. A file that would be replaced or removed
and whose bytes are not in the artifact store is unversioned work: nothing is written for that
pointer unless ``force`` (see :mod:`slipway.data.workcopy`). Every blob is verified before the
first file is written.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from slipway.blobs.manifest import load_manifest
from slipway.blobs.statcache import StatCache
from slipway.blobs.store import BlobStore
from slipway.core.errors import Conflict, IntegrityError
from slipway.core.paths import contained_path
from slipway.data.pointers import Pointer
from slipway.data.records import DatasetVersion
from slipway.data.workcopy import current_digest, refuse_unversioned


@dataclasses.dataclass(frozen=True)
class CheckedOut:
    """What ``checkout`` did for one pointer file."""

    ref: str
    path: str
    written: list[str]  # paths (relative to ``path`` for a folder) rewritten
    removed: list[str]  # files of a folder the version does not hold

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


def checkout_pointer(blobs: BlobStore, pointer: Pointer, version: DatasetVersion, cache: StatCache | None,
                     link: bool = False, force: bool = False) -> CheckedOut:
    """Restore ``pointer.data`` to ``version`` (the version the pointer names, looked up by the caller).

    Raises:
        IntegrityError: the version's digest is not the pointer's (another store, or a rewritten
            history), or a blob is corrupt; nothing is written.
        Conflict: unversioned changes would be lost (without ``force``), or a folder stands where
            the pointer names a file; nothing is written.
        InvalidInput: the version's manifest names a path outside the data path.
    """
    if version.digest != pointer.digest:
        raise IntegrityError(f"{pointer.file} names {pointer.ref} with digest {pointer.digest}, but {version.ref} "
                             f"in this store has digest {version.digest}; is this the store the pointer was written with?")
    manifest = load_manifest(blobs, version.digest)
    root = pointer.data
    if version.kind == "folder":
        if root.exists() and not root.is_dir():
            raise Conflict(f"{root} is a file, but {pointer.ref} is a folder; move it away first")
        wanted = {e.path: e.digest for e in manifest.entries}
        targets = {rel: contained_path(root, rel) for rel in wanted}
        present = _files_under(root, cache) if root.is_dir() else {}
    else:
        if root.is_dir():
            raise Conflict(f"{root} is a folder, but {pointer.ref} is a file; move it away first")
        (entry,) = manifest.entries
        wanted, targets = {root.name: entry.digest}, {root.name: root}
        have = current_digest(root)
        present = {root.name: have} if have is not None else {}
    write = sorted(rel for rel, digest in wanted.items() if present.get(rel) != digest)
    remove = sorted(rel for rel in present if rel not in wanted)  # only a folder has extra files
    plan: list[tuple[Path, str | None]] = [(targets[rel], wanted[rel]) for rel in write]
    plan += [(root / rel, None) for rel in remove]
    if not force:
        refuse_unversioned(blobs, plan, f"checking out {pointer.ref} from {pointer.file.name}")
    for digest in sorted({wanted[rel] for rel in write}):
        if not blobs.verify(digest):
            raise IntegrityError(f"blob {digest} of {version.ref} is corrupt in the artifact store; nothing was written")
    for rel in write:
        blobs.materialize(wanted[rel], targets[rel], link=link, verify=False)
    for rel in remove:
        os.unlink(root / rel)
        _prune_empty(root, (root / rel).parent)
    return CheckedOut(version.ref, str(root), write, remove)


def _files_under(root: Path, cache: StatCache | None) -> dict[str, str]:
    """``{path: digest}`` of every file under ``root`` (the stat cache spares unchanged ones)."""
    from slipway.data.ingest import folder_files

    return {rel: digest for rel, (digest, _) in folder_files(root, cache).items()}


def _prune_empty(root: Path, folder: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty
        folder = folder.parent
