"""Fast ingest of a folder into a local artifact store: hash and store each file in one pass.

The generic path (``blobs.manifest.store_folder``) hashes every file, then copies the missing
ones, one thread-pool task per file. For thousands of small files the per-file overhead is what
costs, so here a file is read once, hashed from memory and, when the store lacks it, stored from
the same bytes: small files are appended to one pack (:mod:`slipway.blobs.packs`; creating a file
per blob is what made this slow), medium ones written as loose blobs (a temporary file in the
store, then a rename), large ones copied while hashing. The work goes to the pool in batches.
Unchanged files are known from the stat cache and not read at all.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from slipway.blobs.local import LocalBlobStore
from slipway.blobs.manifest import MAGIC, Manifest, ManifestEntry
from slipway.blobs.packs import PACK_MAX_BLOB, PackWriter
from slipway.blobs.statcache import StatCache
from slipway.blobs.store import BlobStore
from slipway.core.errors import InvalidInput, NotFound
from slipway.core.hashing import hash_bytes, hash_file
from slipway.core.paths import check_link_inside

SMALL_FILE = 4 << 20  # files below this are read into memory once; larger ones are streamed
BATCH = 64

Found = tuple[str, str, os.stat_result]  # (path in the manifest, full path, stat)


def list_files(root: Path, exclude: frozenset[str] = frozenset(), within: Path | None = None) -> list[Found]:
    """Every regular file under ``root``, in path order (like ``os.walk``: linked files count,
    linked folders are not entered; a link that leads out of ``within`` (default ``root``) or to
    nothing is refused with InvalidInput). Folders whose absolute path is in ``exclude`` are skipped
    (Slipway's own home and artifact store, so adding ``.`` never versions the store itself)."""
    if not root.is_dir():
        raise NotFound(f"folder {root} does not exist")
    found: list[Found] = []
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_symlink():  # followed only inside the folder (see check_link_inside)
                    check_link_inside(entry.path, within or root)
                if entry.is_dir(follow_symlinks=False):
                    if entry.path not in exclude:
                        stack.append((entry.path, f"{prefix}{entry.name}/"))
                elif entry.is_file():
                    if not entry.name.isascii():
                        check_file_name(entry.path)
                    found.append((f"{prefix}{entry.name}", entry.path, entry.stat()))
    found.sort(key=lambda item: item[0])
    return found


def check_file_name(path: str) -> None:
    """Refuse a file name that is not valid UTF-8 (a manifest is JSON: it could not name it)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"file name {os.fsencode(path)!r} is not valid UTF-8; rename the file to version it") from None


def manifest_bytes(entries: list[ManifestEntry]) -> bytes:
    """The canonical bytes of a manifest (identical to ``Manifest.to_bytes``, without dataclass overhead)."""
    body = {"format": MAGIC, "entries": [{"path": e.path, "digest": e.digest, "size": e.size, "mode": e.mode}
                                         for e in entries]}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _read_small(full: str, size: int) -> bytes:
    # Plain os calls: a buffered file object costs extra system calls per file, which is what
    # dominates when a folder holds thousands of small files. A read shorter than asked for is
    # the end of a regular file, so an unchanged file takes one read.
    fd = os.open(full, os.O_RDONLY)
    try:
        want = size + 1
        chunks = [os.read(fd, want)]
        while len(chunks[-1]) == want:  # the file grew since it was listed: read on to its end
            chunks.append(os.read(fd, 1 << 20))
            want = 1 << 20
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


_TOKEN = os.urandom(6).hex()  # per process: temporary names need no random bytes per file
_counter = itertools.count()


def _write_blob(blobs: LocalBlobStore, digest: str, data: bytes) -> None:
    """Write ``data`` as blob ``digest``: a temporary file in the store, then an atomic rename."""
    final = blobs.path_of(digest)
    tmp = f"{blobs.root}/tmp/{digest[:16]}-{os.getpid()}-{_TOKEN}-{next(_counter)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.close(fd)
        fd = -1
        os.replace(tmp, final)  # readers see the whole blob or none
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _prefix_folders(blobs: LocalBlobStore) -> None:
    """Create the 256 ``xx/`` folders once instead of checking one per file."""
    if os.path.isdir(os.path.join(blobs.root, "ff")):
        return  # created in order, so the last one existing means all do
    for prefix in range(256):
        os.makedirs(os.path.join(blobs.root, f"{prefix:02x}"), exist_ok=True)


def _claim(blobs: LocalBlobStore, digest: str) -> bool:
    """``blobs.claim`` without a look at the packs folder per file: the packs were refreshed when
    the ingest began, and a pack another process publishes meanwhile only means a second copy."""
    if digest in blobs.packs:
        return blobs.packs.touch(digest, fresh=False)
    try:
        os.utime(blobs.path_of(digest))
        return True
    except FileNotFoundError:
        return False
    except PermissionError:  # a store owned by another user: existence is all we can tell
        return True


def _store_small(blobs: LocalBlobStore, packer: PackWriter, digest: str, data: bytes) -> None:
    """Store a file read into memory unless the store holds it: packed when small, else loose."""
    if _claim(blobs, digest):
        return
    if len(data) <= PACK_MAX_BLOB:
        packer.add(digest, data)
    else:
        _prefix_folders(blobs)
        _write_blob(blobs, digest, data)


def ingest_folder(
    blobs: BlobStore | None, folder: Path, cache: StatCache | None, workers: int = 8,
    store: bool = True, progress: Callable[[int], None] | None = None, exclude: frozenset[str] = frozenset(),
) -> Manifest:
    """Hash every file under ``folder`` and (when ``store``) put the ones ``blobs`` lacks.

    ``blobs`` must be a local store when ``store`` is set (and may be None otherwise). Returns the folder's manifest; the
    manifest itself is not stored (the caller stores it last, as the version's root).
    """
    if store and not isinstance(blobs, LocalBlobStore):
        raise ValueError("ingest_folder stores only into a local artifact store")
    found = list_files(folder, exclude)
    digests = _digests(blobs if store and isinstance(blobs, LocalBlobStore) else None, folder, found, cache, workers, progress)
    entries = [ManifestEntry(rel, digests[full], info.st_size, stat.S_IMODE(info.st_mode)) for rel, full, info in found]
    return Manifest(tuple(entries))


def folder_files(folder: Path, cache: StatCache | None, workers: int = 8,
                 exclude: frozenset[str] = frozenset()) -> dict[str, tuple[str, int]]:
    """``{path in the folder: (digest, mode)}`` of every file under ``folder``, hashing only the
    files the stat cache does not know (what ``status`` compares with a stored manifest)."""
    found = list_files(folder, exclude)
    digests = _digests(None, folder, found, cache, workers, None)
    return {rel: (digests[full], stat.S_IMODE(info.st_mode)) for rel, full, info in found}


def _digests(blobs: LocalBlobStore | None, folder: Path, found: list[Found], cache: StatCache | None, workers: int,
             progress: Callable[[int], None] | None) -> dict[str, str]:
    """The digest of each found file (by full path); with ``blobs``, missing blobs are stored too."""
    known = cache.lookup_many([(full, info) for _, full, info in found], under=str(folder)) if cache else {}
    digests: dict[str, str] = {}

    packer = blobs.packs.writer() if blobs is not None else None
    if blobs is not None:
        blobs.packs.refresh()

    def one(item: Found) -> None:
        _, full, info = item
        digest = known.get(full)
        if digest is not None:
            if blobs is not None and not _claim(blobs, digest):  # known, but its blob was collected
                if info.st_size < SMALL_FILE and packer is not None:
                    data = _read_small(full, info.st_size)
                    digest = hash_bytes(data)
                    _store_small(blobs, packer, digest, data)
                else:
                    blobs.put_file(full, digest=digest)
        elif info.st_size < SMALL_FILE:
            data = _read_small(full, info.st_size)
            digest = hash_bytes(data)
            if blobs is not None and packer is not None:
                _store_small(blobs, packer, digest, data)
        else:
            digest = hash_file(full)
            if blobs is not None:
                blobs.put_file(full, digest=digest)
        digests[full] = digest
        if progress:
            progress(info.st_size)

    def batch(items: list[Found]) -> None:
        for item in items:
            one(item)

    if blobs is not None:
        todo = found
    else:  # files the stat cache knows need no work at all
        todo = []
        for item in found:
            digest = known.get(item[1])
            if digest is None:
                todo.append(item)
            else:
                digests[item[1]] = digest
    if todo:
        # Per file the work is a few short system calls, each of which drops and retakes the GIL,
        # so threads beyond the cores only fight over it (and over the store's directories).
        # The pack is published (the pool done first) before the caller stores the manifest.
        with packer or contextlib.nullcontext(), ThreadPoolExecutor(max(1, min(workers, os.cpu_count() or 1))) as pool:
            list(pool.map(batch, [todo[i : i + BATCH] for i in range(0, len(todo), BATCH)]))
    fresh = [(full, info, digests[full]) for _, full, info in found if full not in known]
    if cache and fresh:
        cache.store_many(fresh)
    return digests
