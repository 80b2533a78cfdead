"""Directory manifests: a folder as one digest.

A manifest is the sorted list of ``{path, digest, size, mode}`` of every file under a folder,
serialised as canonical JSON and stored as a blob itself, so a folder has one digest and two
folders with the same files have the same digest.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from slipway.blobs.statcache import StatCache
from slipway.blobs.store import BlobStore
from slipway.core.errors import IntegrityError, InvalidInput, NotFound
from slipway.core.hashing import hash_file

MAGIC = "slipway-manifest/1"


@dataclasses.dataclass(frozen=True, slots=True)
class ManifestEntry:
    path: str
    digest: str
    size: int
    mode: int


@dataclasses.dataclass(frozen=True)
class Manifest:
    entries: tuple[ManifestEntry, ...]

    def to_bytes(self) -> bytes:
        body = {"format": MAGIC, "entries": [dataclasses.asdict(e) for e in self.entries]}
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        try:
            body = orjson.loads(data)
            if body.get("format") != MAGIC:
                raise ValueError("not a manifest")
            return cls(tuple(ManifestEntry(**e) for e in body["entries"]))
        except (orjson.JSONDecodeError, AttributeError, TypeError, KeyError, ValueError) as err:
            raise InvalidInput("blob is not a Slipway directory manifest") from err

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self.entries)

    def by_path(self) -> dict[str, ManifestEntry]:
        return {e.path: e for e in self.entries}


def manifest_files(data: bytes) -> dict[str, tuple[str, int]]:
    """``{path: (digest, mode)}`` of a manifest's bytes (what ``status`` needs; no entry objects are built).

    Raises:
        InvalidInput: the bytes are not a manifest.
    """
    try:
        body = orjson.loads(data)
        if body.get("format") != MAGIC:
            raise ValueError("not a manifest")
        return {e["path"]: (e["digest"], e["mode"]) for e in body["entries"]}
    except (orjson.JSONDecodeError, AttributeError, TypeError, KeyError, ValueError) as err:
        raise InvalidInput("blob is not a Slipway directory manifest") from err


def is_manifest(data: bytes) -> bool:
    # Canonical JSON sorts keys, so a manifest starts with "entries" and ends with "format".
    return data.startswith(b'{"entries":') and data.endswith(b'"format":"' + MAGIC.encode() + b'"}')


def scan_folder(
    folder: str | os.PathLike[str],
    cache: StatCache | None = None,
    workers: int = 8,
    progress: Callable[[int], None] | None = None,
) -> Manifest:
    """Hash every file under ``folder`` (in parallel, skipping files the stat cache knows)."""
    root = Path(folder)
    if not root.is_dir():
        raise NotFound(f"folder {folder} does not exist")
    found: list[tuple[str, str, os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            full = os.path.join(dirpath, name)
            info = os.stat(full)
            if stat.S_ISREG(info.st_mode):
                found.append((os.path.relpath(full, root).replace(os.sep, "/"), full, info))
    known = cache.lookup_many([(full, info) for _, full, info in found]) if cache else {}
    to_hash = [full for _, full, _ in found if full not in known]

    def hash_one(full: str) -> str:
        digest = hash_file(full)
        if progress:
            progress(1)
        return digest

    with ThreadPoolExecutor(max(1, workers)) as pool:
        fresh = dict(zip(to_hash, pool.map(hash_one, to_hash), strict=True))
    if cache and fresh:
        cache.store_many([(full, info, fresh[full]) for _, full, info in found if full in fresh])
    digests = {**known, **fresh}
    entries = sorted(
        (ManifestEntry(rel, digests[full], info.st_size, stat.S_IMODE(info.st_mode)) for rel, full, info in found),
        key=lambda e: e.path,
    )
    return Manifest(tuple(entries))


def store_folder(
    blobs: BlobStore,
    folder: str | os.PathLike[str],
    cache: StatCache | None = None,
    workers: int = 8,
) -> tuple[str, Manifest]:
    """Store every file of ``folder`` not yet in ``blobs``, then the manifest. Returns its digest."""
    manifest = scan_folder(folder, cache, workers)
    missing = set(blobs.missing(e.digest for e in manifest.entries))
    todo = [e for e in manifest.entries if e.digest in missing]
    root = Path(folder)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(pool.map(lambda e: blobs.put_file(root / e.path, digest=e.digest), todo))
    return blobs.put_bytes(manifest.to_bytes()), manifest


def load_manifest(blobs: BlobStore, digest: str) -> Manifest:
    return Manifest.from_bytes(blobs.read_bytes(digest))


def restore_folder(
    blobs: BlobStore, digest: str, dest: str | os.PathLike[str], link: bool = True, workers: int = 8
) -> Manifest:
    """Materialise the folder of manifest ``digest`` under ``dest``. Every file is verified before
    the first one is written, so a corrupt blob leaves nothing behind.

    Raises:
        IntegrityError: a file's blob no longer matches its digest (named; nothing was written).
        NotFound: a file's blob is not in the store.
    """
    manifest = load_manifest(blobs, digest)
    target = Path(dest).resolve()
    for entry in manifest.entries:
        full = (target / entry.path).resolve()
        if not full.is_relative_to(target):
            raise IntegrityError(f"manifest {digest} names a path outside the folder: {entry.path!r}")

    def check(entry: ManifestEntry) -> None:
        if not blobs.verify(entry.digest):
            raise IntegrityError(f"file {entry.path} (blob {entry.digest}) is corrupt in the artifact store; "
                                 f"nothing was written to {target}")

    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(pool.map(check, manifest.entries))
        # Verified above; a blob changed between the check and the copy is the store being
        # edited behind Slipway's back while it reads, which no check can rule out.
        list(pool.map(lambda e: blobs.materialize(e.digest, target / e.path, link=link, verify=False),
                      manifest.entries))
    return manifest
