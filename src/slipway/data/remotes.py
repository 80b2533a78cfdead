"""Pushing and pulling a version's blobs to and from another artifact store (any fsspec URI).

Only blobs the target lacks move, in parallel; each copy is atomic on the target, so an
interrupted push or pull resumes by running it again.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from slipway.blobs.manifest import load_manifest
from slipway.blobs.store import BlobStore
from slipway.core.errors import IntegrityError
from slipway.core.hashing import CHUNK
from slipway.data.records import DatasetVersion


def version_digests(blobs: BlobStore, version: DatasetVersion) -> list[str]:
    """Every blob a version needs: its files, its profile and its manifest (last)."""
    manifest = load_manifest(blobs, version.digest)
    digests = [e.digest for e in manifest.entries]
    if version.profile_digest:
        digests.append(version.profile_digest)
    return [*dict.fromkeys(digests), version.digest]


def copy_blobs(source: BlobStore, target: BlobStore, digests: list[str], workers: int = 8,
               progress: Callable[[int], None] | None = None) -> int:
    """Copy the blobs of ``digests`` that ``target`` lacks; returns how many moved.

    Each blob is re-hashed on the way, so a blob corrupted in ``source`` is refused rather than
    spread to the target.

    Raises:
        IntegrityError: a source blob's bytes no longer match its digest (named in the message).
    """
    todo = target.missing(digests)

    def copy_one(digest: str) -> int:
        if source.local:
            stored = target.put_file(source.path_of(digest))
        else:
            with source.open(digest) as stream, tempfile.NamedTemporaryFile(delete=False) as spool:
                while chunk := stream.read(CHUNK):
                    spool.write(chunk)
            try:
                stored = target.put_file(spool.name)
            finally:
                os.unlink(spool.name)
        if stored != digest:
            # The stray copy under its actual digest is referenced by nothing; gc removes it.
            raise IntegrityError(f"blob {digest} is corrupt in {source.uri} (its bytes hash to {stored}); not copied")
        if progress:
            progress(1)
        return 1

    with ThreadPoolExecutor(max(1, workers)) as pool:
        return sum(pool.map(copy_one, todo))
