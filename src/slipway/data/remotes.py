"""Pushing and pulling a version's blobs to and from another artifact store (any fsspec URI).

Only blobs the target lacks move, in parallel; each copy is atomic on the target, so an
interrupted push or pull resumes by running it again.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from slipway.blobs.local import LocalBlobStore
from slipway.blobs.manifest import load_manifest
from slipway.blobs.packs import PACK_MAX_BLOB, PackWriter
from slipway.blobs.store import BlobStore
from slipway.core.errors import BackendUnavailable, IntegrityError, SlipwayError
from slipway.core.hashing import CHUNK, hash_bytes
from slipway.data.records import DatasetVersion


@contextlib.contextmanager
def remote_errors(uri: str) -> Iterator[None]:
    """Turn a remote store's driver error (no credentials, no such bucket, connection refused) into
    one BackendUnavailable line naming the remote; Slipway's own errors pass through."""
    try:
        yield
    except SlipwayError:
        raise
    except Exception as err:  # botocore, gcsfs, adlfs, aiohttp: each driver raises its own tree
        detail = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise BackendUnavailable(f"cannot use the remote store {uri}: {type(err).__name__}"
                                 f"{': ' + detail if detail else ''} (check its credentials and address)") from err


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
    if not todo:
        return 0
    packer = target.packs.writer() if isinstance(target, LocalBlobStore) else None

    def copy_one(digest: str) -> int:
        loose = source.file_path(digest)
        if loose is not None and (packer is None or os.path.getsize(loose) > PACK_MAX_BLOB):
            stored = target.put_file(loose)
        else:
            stored = _copy_stream(source, target, digest, packer)
        if stored != digest:
            # The stray copy under its actual digest is referenced by nothing; gc removes it.
            raise IntegrityError(f"blob {digest} is corrupt in {source.uri} (its bytes hash to {stored}); not copied")
        if progress:
            progress(1)
        return 1

    # Into a local store, small blobs land in one pack, published once every copy succeeded.
    with packer or contextlib.nullcontext(), ThreadPoolExecutor(max(1, workers)) as pool:
        return sum(pool.map(copy_one, todo))


def _copy_stream(source: BlobStore, target: BlobStore, digest: str, packer: PackWriter | None) -> str:
    """Copy one blob through memory (small: into ``packer`` when given) or a spool file."""
    with source.open(digest) as stream:
        head = stream.read(PACK_MAX_BLOB + 1)
        if len(head) <= PACK_MAX_BLOB:
            actual = hash_bytes(head)
            if actual == digest:
                if packer is not None:
                    packer.add(digest, head)
                else:
                    target.put_bytes(head)
            return actual
        with tempfile.NamedTemporaryFile(delete=False) as spool:
            spool.write(head)
            while chunk := stream.read(CHUNK):
                spool.write(chunk)
    try:
        return target.put_file(spool.name)
    finally:
        os.unlink(spool.name)


def repair_blobs(source: BlobStore, target: BlobStore, digests: list[str], workers: int = 8) -> int:
    """Re-fetch from ``source`` every blob of ``digests`` that ``target`` holds corrupt (each is
    re-hashed); returns how many were repaired.

    Raises:
        IntegrityError: the source's copy is corrupt too (named; that blob is left as it was).
        NotFound: the source lacks a blob that needs repair.
    """
    present = set(digests) - set(target.missing(digests))
    with ThreadPoolExecutor(max(1, workers)) as pool:
        corrupt = [d for d, ok in zip(sorted(present), pool.map(target.verify, sorted(present)), strict=True) if not ok]

    def repair(digest: str) -> int:
        with source.open(digest) as stream, tempfile.NamedTemporaryFile(delete=False) as spool:
            while chunk := stream.read(CHUNK):
                spool.write(chunk)
        try:
            target.restore(digest, spool.name)
        except IntegrityError as err:
            raise IntegrityError(f"blob {digest} is corrupt in {source.uri} too; not repaired") from err
        finally:
            os.unlink(spool.name)
        return 1

    with ThreadPoolExecutor(max(1, workers)) as pool:
        return sum(pool.map(repair, corrupt))
