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
from typing import Any

import orjson

from slipway.blobs.statcache import StatCache
from slipway.blobs.store import BlobStore
from slipway.core.errors import IntegrityError, InvalidInput, NotFound
from slipway.core.hashing import DIGEST_RE, hash_file
from slipway.core.paths import all_safe_relative_paths, check_link_inside, check_relative_path, contained_path

MAGIC = "slipway-manifest/1"
MAX_MANIFEST_BYTES = 256 << 20  # ~2 million files
_HEX = b"0123456789abcdef"


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
    def from_bytes(cls, data: bytes, check: bool = True) -> Manifest:
        """Parse and check a manifest (every path safe, see :func:`check_entries`). Only code that
        never writes files may pass ``check=False`` (``gc``, which must see every digest a stored
        manifest names, safe or not, so that it deletes none of them).

        Raises:
            InvalidInput: the bytes are not a manifest, or an entry is unsafe (named).
        """
        try:
            body = orjson.loads(data)
            if body.get("format") != MAGIC:
                raise ValueError("not a manifest")
            manifest = cls(tuple(ManifestEntry(**e) for e in body["entries"]))
        except (orjson.JSONDecodeError, AttributeError, TypeError, KeyError, ValueError) as err:
            raise InvalidInput("blob is not a Slipway directory manifest") from err
        if check:
            check_entries([(e.path, e.digest, e.size, e.mode) for e in manifest.entries])
        return manifest

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
        entries = [(e["path"], e["digest"], e["size"], e["mode"]) for e in body["entries"]]
    except (orjson.JSONDecodeError, AttributeError, TypeError, KeyError, ValueError) as err:
        raise InvalidInput("blob is not a Slipway directory manifest") from err
    check_entries(entries)
    return {path: (digest, mode) for path, digest, _, mode in entries}


def check_entries(entries: list[tuple[Any, Any, Any, Any]]) -> None:
    """Refuse a manifest that could write outside its folder or cannot be materialised.

    Every path must be a safe relative path (:func:`slipway.core.paths.check_relative_path`:
    no ``..``, not absolute, normalised, no NUL, newline or backslash), named once, and not
    also a folder of another entry; every digest a digest; sizes and modes plain integers.
    Called whenever a manifest is read, so one planted in the store directly is refused too.

    Raises:
        InvalidInput: naming the first bad entry.
    """
    if _all_good(entries):
        return
    seen: set[str] = set()
    for raw, digest, size, mode in entries:
        path = check_relative_path(raw, "manifest path")
        if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
            raise InvalidInput(f"manifest entry {path!r} has a malformed digest {digest!r}")
        for number in (size, mode):
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise InvalidInput(f"manifest entry {path!r} has a malformed size or mode {number!r}")
        if path in seen:
            raise InvalidInput(f"manifest names {path!r} twice")
        seen.add(path)
    for path in seen:
        parent = path
        while "/" in parent:
            parent = parent.rsplit("/", 1)[0]
            if parent in seen:
                raise InvalidInput(f"manifest names {parent!r} as a file and as the folder of {path!r}")


def _all_good(entries: list[tuple[Any, Any, Any, Any]]) -> bool:
    """The checks of :func:`check_entries` over all entries at once (no per-entry Python
    loop where a C-level pass serves); False sends the caller to the loop that names the culprit."""
    paths: list[Any] = [e[0] for e in entries]
    digests: list[Any] = [e[1] for e in entries]
    if not all_safe_relative_paths(paths) or len(set(paths)) != len(paths):
        return False
    try:
        hex_digits = "".join(digests).encode("ascii")
    except (TypeError, UnicodeEncodeError):
        return False
    if hex_digits.translate(None, _HEX) or not all(len(d) == 64 for d in digests):
        return False
    numbers: list[Any] = [e[2] for e in entries] + [e[3] for e in entries]
    if numbers and (set(map(type, numbers)) != {int} or min(numbers) < 0):  # a bool is not an int here
        return False
    folders = {path.rpartition("/")[0] for path in paths if "/" in path}
    for folder in list(folders):
        while "/" in folder:
            folder = folder.rpartition("/")[0]
            folders.add(folder)
    return folders.isdisjoint(paths)


def is_manifest(data: bytes) -> bool:
    # Canonical JSON sorts keys, so a manifest starts with "entries" and ends with "format".
    return data.startswith(b'{"entries":') and data.endswith(b'"format":"' + MAGIC.encode() + b'"}')


def scan_folder(
    folder: str | os.PathLike[str],
    cache: StatCache | None = None,
    workers: int = 8,
    progress: Callable[[int], None] | None = None,
) -> Manifest:
    """Hash every file under ``folder`` (in parallel, skipping files the stat cache knows).

    A symlink is followed only to a file inside ``folder``; one leading out of it, or to
    nothing, is refused (InvalidInput naming it). Linked folders are not entered.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotFound(f"folder {folder} does not exist")
    found: list[tuple[str, str, os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in [*filenames, *dirnames]:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):  # followed only inside the folder (see check_link_inside)
                check_link_inside(full, root)
            if name in dirnames:
                continue
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
    """The checked manifest stored as ``digest`` (see :func:`check_entries`)."""
    return Manifest.from_bytes(blobs.read_bytes(digest))


def check_stored_manifest(blobs: BlobStore, digest: str) -> Manifest:
    """The manifest ``digest`` a client asks to record (a version, a folder artifact), checked
    before anything refers to it: a size bound first (never read a huge blob into memory), then
    every entry.

    Raises:
        InvalidInput: too large, not a manifest, or an unsafe entry (named).
    """
    if blobs.size(digest) > MAX_MANIFEST_BYTES:
        raise InvalidInput(f"blob {digest} is too large to be a manifest")
    return load_manifest(blobs, digest)


def restore_folder(
    blobs: BlobStore, digest: str, dest: str | os.PathLike[str], link: bool = False, workers: int = 8
) -> Manifest:
    """Materialise the folder of manifest ``digest`` under ``dest``. Every file is verified before
    the first one is written, so a corrupt blob leaves nothing behind.

    Raises:
        IntegrityError: a file's blob no longer matches its digest (named; nothing was written).
        NotFound: a file's blob is not in the store.
    """
    manifest = load_manifest(blobs, digest)  # refuses unsafe paths
    target = Path(dest).resolve()
    # A symlinked folder already in ``dest`` cannot lead a file out: each folder is resolved once
    # (a file's own name, if a link, is replaced by the write, not written through).
    first_in: dict[str, str] = {}
    for entry in manifest.entries:
        first_in.setdefault(entry.path.rpartition("/")[0], entry.path)
    for path in first_in.values():
        contained_path(target, path, f"file of manifest {digest}")

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
