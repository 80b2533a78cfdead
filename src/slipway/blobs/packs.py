"""Packs: many small blobs in one file, so adding a folder of thousands of files writes two files.

Creating a file is the expensive part of storing a small blob (on ext4 after a large delete it
costs hundreds of microseconds, far more than hashing a few kilobytes), so a local store keeps the
small files of a folder being added in packs, as git does, instead of one file per blob:

- ``<root>/packs/<id>.pack`` holds the blobs' bytes back to back;
- ``<root>/packs/<id>.idx`` maps each digest to its offset and size (canonical JSON).

Both are immutable. A writer fills a temporary file in ``<root>/tmp``, flushes it to disk, renames
it into ``packs/`` and only then publishes the index the same way, so a pack is visible exactly
when all its bytes are; a writer killed at any point leaves an unreferenced temporary file that
garbage collection removes. Several writers never share a pack (each has its own id), and a blob
may sit in more than one pack or also loose: any copy is the same bytes.

Readers load the indexes lazily and look again (one ``listdir``) when a digest is not found, so a
pack published by another process is seen; garbage collection replaces a pack by a smaller one
holding only its live blobs, and a reader that loses the race re-reads the indexes and retries.
Nothing here trusts the bytes: callers verify digests as they do for loose blobs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
from collections.abc import Iterable, Iterator

import orjson

PACK_MAX_BLOB = 256 * 1024  # larger files stay loose blobs (hard-linkable by `data get`)
PACK_MAX_BYTES = 256 << 20  # a writer starts a new pack past this size
INDEX_FORMAT = "slipway-pack-index/1"
TOUCH_EVERY_S = 60.0  # a pack's age is refreshed at most this often by one process

Location = tuple[str, int, int]  # (pack file name, offset, size)


@dataclasses.dataclass(frozen=True)
class Pack:
    """One published pack: its id, its blobs ``{digest: (offset, size)}`` and its age."""

    id: str
    entries: dict[str, tuple[int, int]]
    modified_ms: int


class PackSet:
    """The packs of one local store folder (thread-safe; shared by the store's users)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.folder = os.path.join(root, "packs")
        self._lock = threading.Lock()
        self._where: dict[str, Location] = {}
        self._loaded: set[str] = set()
        self._scanned_mtime = -1
        self._touched: dict[str, float] = {}

    # -- looking up ---------------------------------------------------------------------------
    def __contains__(self, digest: str) -> bool:
        """Whether ``digest`` is in a pack this object has loaded (no look at the folder)."""
        return digest in self._where

    def locate(self, digest: str, fresh: bool = True) -> Location | None:
        """Where blob ``digest`` is packed, or None. With ``fresh``, a miss re-reads the indexes
        (another process may have published a pack since); without, only a changed folder does."""
        found = self._where.get(digest)
        if found is None:
            self.refresh(force=fresh)
            found = self._where.get(digest)
        return found

    def refresh(self, force: bool = True) -> None:
        """Load indexes published since the last look; forget packs that were removed."""
        try:
            mtime = os.stat(self.folder).st_mtime_ns
        except FileNotFoundError:
            return
        # The folder's mtime has a coarse clock, so a cheap check can miss a pack published in
        # the same tick; that only makes a writer store a blob twice, and readers always force.
        if not force and mtime == self._scanned_mtime:
            return
        names = {n[:-4] for n in os.listdir(self.folder) if n.endswith(".idx")}
        with self._lock:
            if self._loaded - names:  # a pack was replaced by garbage collection: start over
                self._reset_locked()
            self._scanned_mtime = mtime
            for pack_id in sorted(names - self._loaded):
                entries = self._read_index(pack_id)
                if entries is None:
                    continue
                name = f"{pack_id}.pack"
                for digest, (offset, size) in entries.items():
                    self._where.setdefault(digest, (name, offset, size))
                self._loaded.add(pack_id)

    def _read_index(self, pack_id: str) -> dict[str, tuple[int, int]] | None:
        try:
            with open(os.path.join(self.folder, f"{pack_id}.idx"), "rb") as handle:
                body = orjson.loads(handle.read())
        except FileNotFoundError:
            return None  # removed between the listing and the read
        if body.get("format") != INDEX_FORMAT:
            return None
        return {digest: (int(offset), int(size)) for digest, offset, size in body["entries"]}

    def digests(self) -> Iterator[str]:
        self.refresh()
        yield from list(self._where)

    def read(self, digest: str) -> bytes | None:
        """The packed bytes of ``digest`` (unverified), or None when it is not packed."""
        for _ in range(3):  # a pack replaced by garbage collection in between: look again
            found = self.locate(digest)
            if found is None:
                return None
            name, offset, size = found
            try:
                fd = os.open(os.path.join(self.folder, name), os.O_RDONLY)
            except FileNotFoundError:
                self._forget()
                continue
            try:
                return os.pread(fd, size, offset)  # short if the pack was truncated: the digest check says so
            finally:
                os.close(fd)
        return None

    def _forget(self) -> None:
        """Drop what is known of the indexes; the next look re-reads them."""
        with self._lock:
            self._reset_locked()

    def _reset_locked(self) -> None:
        self._where.clear()
        self._loaded.clear()
        self._scanned_mtime = -1

    def pack_path(self, digest: str) -> str | None:
        found = self.locate(digest)
        return os.path.join(self.folder, found[0]) if found else None

    def touch(self, digest: str, fresh: bool = True) -> bool:
        """Mark the pack holding ``digest`` as recently used (garbage collection spares young
        packs, as it spares young loose blobs); False when the digest is not packed."""
        for _ in range(2):
            found = self.locate(digest, fresh)
            if found is None:
                return False
            if time.monotonic() - self._touched.get(found[0], -TOUCH_EVERY_S) < TOUCH_EVERY_S:
                return True  # touched a moment ago (far inside any grace period)
            try:
                os.utime(os.path.join(self.folder, found[0]))
                self._touched[found[0]] = time.monotonic()
                return True
            except FileNotFoundError:
                self._forget()  # replaced by garbage collection: find the new pack
            except PermissionError:
                return True  # a store owned by another user: existence is all we can tell
        return False

    # -- writing ------------------------------------------------------------------------------
    def writer(self) -> PackWriter:
        return PackWriter(self)

    def _publish(self, tmp_pack: str, entries: list[tuple[str, int, int]]) -> None:
        """Rename a filled pack into place, then write its index (the moment it becomes visible)."""
        os.makedirs(self.folder, exist_ok=True)
        pack_id = f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}"
        os.replace(tmp_pack, os.path.join(self.folder, f"{pack_id}.pack"))
        body = orjson.dumps({"format": INDEX_FORMAT, "entries": entries})
        tmp_index = os.path.join(self.root, "tmp", f"{pack_id}.idx")
        with open(tmp_index, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_index, 0o444)
        os.replace(tmp_index, os.path.join(self.folder, f"{pack_id}.idx"))
        _fsync_folder(self.folder)
        with self._lock:
            name = f"{pack_id}.pack"
            for digest, offset, size in entries:
                self._where.setdefault(digest, (name, offset, size))
            self._loaded.add(pack_id)

    # -- garbage collection -------------------------------------------------------------------
    def packs(self) -> list[Pack]:
        """Every published pack, oldest first."""
        if not os.path.isdir(self.folder):
            return []
        found = []
        for name in sorted(os.listdir(self.folder)):
            if not name.endswith(".idx"):
                continue
            pack_id = name[:-4]
            entries = self._read_index(pack_id)
            with contextlib.suppress(FileNotFoundError):
                mtime = os.stat(os.path.join(self.folder, f"{pack_id}.pack")).st_mtime_ns // 1_000_000
                if entries is not None:
                    found.append(Pack(pack_id, entries, mtime))
        return found

    def keep_only(self, pack: Pack, live: Iterable[str]) -> None:
        """Replace ``pack`` by one holding only the ``live`` digests (or by nothing). The new pack
        is published before the old one is removed, so a live blob is always in one of them."""
        keep = sorted(set(live) & pack.entries.keys())
        if keep:
            fd = os.open(os.path.join(self.folder, f"{pack.id}.pack"), os.O_RDONLY)
            try:
                with self.writer() as out:
                    for digest in keep:
                        offset, size = pack.entries[digest]
                        out.add(digest, os.pread(fd, size, offset))
            finally:
                os.close(fd)
        # Index first: once it is gone no reader looks for the pack file.
        for suffix in (".idx", ".pack"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.folder, f"{pack.id}{suffix}"))
        self._forget()


class PackWriter:
    """Appends blobs to a new pack; ``close`` publishes it (a context manager: an error drops it).

    Thread-safe: the threads hashing a folder's files add to one writer.
    """

    def __init__(self, packs: PackSet) -> None:
        self._packs = packs
        self._lock = threading.Lock()
        self._fd = -1
        self._tmp = ""
        self._offset = 0
        self._entries: list[tuple[str, int, int]] = []
        self._pending: set[str] = set()

    def __enter__(self) -> PackWriter:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def add(self, digest: str, data: bytes) -> None:
        """Append ``data`` as blob ``digest`` (once: a digest already added is skipped)."""
        with self._lock:
            if digest in self._pending:
                return
            if self._fd < 0:
                self._open()
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            self._entries.append((digest, self._offset, len(data)))
            self._pending.add(digest)
            self._offset += len(data)
            if self._offset >= PACK_MAX_BYTES:
                self._finish()

    def _open(self) -> None:
        self._tmp = os.path.join(self._packs.root, "tmp", f"pack-{os.getpid()}-{os.urandom(6).hex()}")
        self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        self._offset = 0
        self._entries = []

    def _finish(self) -> None:
        fd, self._fd = self._fd, -1
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._packs._publish(self._tmp, self._entries)
        self._entries = []

    def close(self) -> None:
        """Publish what was added (nothing happens when nothing was)."""
        with self._lock:
            if self._fd >= 0:
                self._finish()

    def abort(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._tmp)


def _fsync_folder(folder: str) -> None:
    """Make the renames in ``folder`` durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
