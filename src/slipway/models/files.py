"""Reading a bundle's files: from a folder, or from the artifact store verified against its digest.

Loading reads each file's bytes once, hashes them and hands the same bytes to the flavor, so
there is no window between checking a file and loading it in which it could be swapped.
"""

from __future__ import annotations

import os
from pathlib import Path

from slipway.blobs.manifest import Manifest, is_manifest
from slipway.blobs.store import BlobStore
from slipway.core.errors import IntegrityError, InvalidInput, NotFound
from slipway.core.hashing import hash_bytes

# Above this size a file is hashed on all cores (BLAKE3 releases the GIL), so verifying a large
# model costs a fraction of deserialising it.
PARALLEL_HASH_BYTES = 8 * 1024 * 1024


def _digest(data: bytes) -> str:
    if len(data) < PARALLEL_HASH_BYTES:
        return hash_bytes(data)
    import blake3

    return blake3.blake3(data, max_threads=blake3.blake3.AUTO).hexdigest()


def read_verified_bundle(blobs: BlobStore, bundle_digest: str) -> dict[str, bytes]:
    """Every file of the bundle whose manifest digest is ``bundle_digest``, each checked.

    Raises:
        IntegrityError: the manifest or any file does not hash to its recorded digest (the
            message names the bundle digest and the file).
        NotFound: a blob of the bundle is missing from the store.
    """
    try:
        manifest_bytes = blobs.read_bytes(bundle_digest, verify=False)
    except NotFound as err:
        raise NotFound(f"model bundle {bundle_digest} is not in the artifact store") from err
    if hash_bytes(manifest_bytes) != bundle_digest:
        raise IntegrityError(f"model bundle {bundle_digest} is corrupt: its manifest no longer matches the digest; "
                             "refusing to load it")
    try:
        manifest = Manifest.from_bytes(manifest_bytes)
    except InvalidInput as err:
        if is_manifest(manifest_bytes):  # a manifest, but an unsafe one (e.g. a path with '..')
            raise InvalidInput(f"model bundle {bundle_digest} is refused: {err.message}") from err
        raise InvalidInput(f"artifact {bundle_digest} is a single file, not a model bundle folder") from err
    files: dict[str, bytes] = {}
    for entry in manifest.entries:
        try:
            data = blobs.read_bytes(entry.digest, verify=False)
        except NotFound as err:
            raise NotFound(f"model bundle {bundle_digest}: file {entry.path} (blob {entry.digest}) is missing") from err
        if _digest(data) != entry.digest:
            raise IntegrityError(
                f"model bundle {bundle_digest} is corrupt: file {entry.path} does not match its digest "
                f"{entry.digest} (it was changed after the model was stored); refusing to load it"
            )
        files[entry.path] = data
    return files


def read_folder(folder: str | os.PathLike[str]) -> dict[str, bytes]:
    """Every file under a bundle folder on disk (no digest to check against)."""
    root = Path(folder)
    if not root.is_dir():
        raise NotFound(f"model folder {folder} does not exist")
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*")) if path.is_file()
    }
