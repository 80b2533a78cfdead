"""The local folder backend: blobs as read-only files, small ones in packs.

A blob lives at ``<root>/<d[:2]>/<d[2:]>`` where ``d`` is its BLAKE3 digest (a *loose* blob), or
inside a pack of small blobs (``<root>/packs/``, see :mod:`slipway.blobs.packs`; a folder being
added stores its small files that way). Bytes go to a temporary file in ``<root>/tmp`` and are
renamed into place, so a reader never sees half a blob. Plain ``os`` calls: fsspec is not imported.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from slipway.blobs.base import BlobStore, not_stored
from slipway.blobs.copying import copy_hashing, copy_range, try_link
from slipway.blobs.packs import PackSet
from slipway.core.errors import IntegrityError, NotFound
from slipway.core.hashing import CHUNK, check_digest, hash_bytes, hash_file


class LocalBlobStore(BlobStore):
    """Blobs in the folder ``root`` (``uri`` is how the user named it, e.g. ``file:///…``)."""

    local = True

    def __init__(self, uri: str, root: str | None = None) -> None:
        self.uri = uri
        self.root = (root if root is not None else uri).rstrip("/")
        self._fs: Any = None
        self._packs: PackSet | None = None
        Path(self.root, "tmp").mkdir(parents=True, exist_ok=True)

    @property
    def fs(self) -> Any:
        """An fsspec local file system (imported on first use)."""
        if self._fs is None:
            from fsspec.implementations.local import LocalFileSystem

            self._fs = LocalFileSystem()
        return self._fs

    @property
    def packs(self) -> PackSet:
        """The packs of small blobs (see :mod:`slipway.blobs.packs`)."""
        if self._packs is None:
            self._packs = PackSet(self.root)
        return self._packs

    # -- addressing -------------------------------------------------------------------------
    def path_of(self, digest: str) -> str:
        """Where blob ``digest`` lives as a loose blob (a packed blob has no path of its own)."""
        check_digest(digest)
        return f"{self.root}/{digest[:2]}/{digest[2:]}"

    def file_path(self, digest: str) -> str | None:  # noqa: D102 - see BlobStore
        path = self.path_of(digest)
        return path if os.path.exists(path) else None

    def exists(self, digest: str) -> bool:  # noqa: D102 - see BlobStore
        return os.path.exists(self.path_of(digest)) or self.packs.locate(digest) is not None

    def missing(self, digests: Iterable[str], workers: int = 16) -> list[str]:  # noqa: D102 - see BlobStore
        unique = sorted(set(digests))
        packs = self.packs
        packs.refresh()
        return [d for d in unique if d not in packs and not os.path.exists(self.path_of(d))]

    # -- writing ----------------------------------------------------------------------------
    def put_bytes(self, data: bytes) -> str:  # noqa: D102 - see BlobStore
        digest = hash_bytes(data)
        if not self.claim(digest):
            self._write(digest, lambda handle: handle.write(data))
        return digest

    def claim(self, digest: str) -> bool:
        """Whether the blob exists; if so its mtime (or its pack's) is refreshed, because garbage
        collection spares young blobs and a writer about to reference an old unreferenced blob
        must not lose it to a collection running in between. A pack published by another process
        a moment ago may be missed; the caller then stores a second copy, which is harmless."""
        try:
            os.utime(self.path_of(digest))
            return True
        except FileNotFoundError:
            return self.packs.touch(digest, fresh=False)
        except PermissionError:  # a store owned by another user: existence is all we can tell
            return True

    def put_file(self, path: str | os.PathLike[str], digest: str | None = None) -> str:  # noqa: D102
        digest = digest or hash_file(path)
        if not self.claim(digest):
            self._copy_in(os.fspath(path), digest)
        return digest

    def adopt(self, path: str | os.PathLike[str], digest: str) -> None:
        """Store the file ``path`` (already hashed to ``digest``) by renaming it into place, so
        ``path`` must be in the store's ``tmp`` folder (see :meth:`temporary_folder`)."""
        try:
            if self.claim(digest):
                return
            final = self.path_of(digest)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.chmod(path, 0o444)
            os.replace(path, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def temporary_folder(self) -> str:
        """Where half-written files go; garbage collection removes the stale ones."""
        return os.path.join(self.root, "tmp")

    def put_file_hashing(self, path: str | os.PathLike[str]) -> str:
        """Store a file whose digest is not known yet, hashing and copying at once. Returns its digest.

        The file is copied to a temporary file in the store inside the kernel (``copy_file_range``)
        while this thread hashes it (BLAKE3 on all cores); the temporary file is then renamed to
        its digest, or dropped when the store already holds that blob. Memory stays at one chunk
        whatever the file's size (nothing is memory-mapped).
        """
        fd, tmp = tempfile.mkstemp(dir=self.temporary_folder(), prefix="ingest-")
        try:
            try:
                digest = copy_hashing(os.fspath(path), fd)
            finally:
                os.close(fd)
            if self.claim(digest):
                os.unlink(tmp)
                return digest
            final = self.path_of(digest)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
            return digest
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def restore(self, digest: str, path: str | os.PathLike[str]) -> None:
        """Write a good copy of blob ``digest`` from the file ``path`` over a corrupt one. Reads
        prefer a loose blob to a packed one, so a corrupt packed blob is repaired by a loose copy.

        Raises:
            IntegrityError: the file's bytes do not hash to ``digest`` (nothing is written).
        """
        actual = hash_file(path)
        if actual != digest:
            raise IntegrityError(f"the copy of blob {digest} hashes to {actual}; not restored")
        self._copy_in(os.fspath(path), digest)  # temporary file, then an atomic rename over it

    def _copy_in(self, source: str, digest: str) -> None:
        final = self.path_of(digest)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.temporary_folder(), prefix=digest[:8])
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _write(self, digest: str, fill: Callable[[BinaryIO], object]) -> None:
        final = self.path_of(digest)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.temporary_folder(), prefix=digest[:8])
        try:
            with os.fdopen(fd, "wb") as handle:
                fill(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    # -- reading ----------------------------------------------------------------------------
    def open(self, digest: str) -> BinaryIO:  # noqa: D102 - see BlobStore
        try:
            return open(self.path_of(digest), "rb")
        except FileNotFoundError as err:
            packed = self.packs.read(digest)
            if packed is None:
                raise NotFound(not_stored(digest, self.uri)) from err
            return io.BytesIO(packed)

    def verify(self, digest: str) -> bool:  # noqa: D102 - see BlobStore
        try:
            return hash_file(self.path_of(digest)) == digest
        except FileNotFoundError:
            return super().verify(digest)  # packed, or absent (read_bytes says which)

    def size(self, digest: str) -> int:  # noqa: D102 - see BlobStore
        try:
            return os.path.getsize(self.path_of(digest))
        except FileNotFoundError as err:
            packed = self.packs.locate(digest)
            if packed is None:
                raise NotFound(not_stored(digest, self.uri)) from err
            return packed[2]

    def materialize(self, digest: str, dest: str | os.PathLike[str], link: bool = True, verify: bool = True) -> None:
        """Write blob ``digest`` to the file ``dest``: a hard link to the stored (read-only) blob
        when ``link`` and possible, else a copy (copy_file_range: a reflink where the file system
        has them). The file appears whole or not at all (a temporary name, then a rename, which
        replaces a symlink at ``dest`` rather than writing through it).

        Raises:
            NotFound: the store does not hold the blob.
            IntegrityError: ``verify`` is set and the bytes do not match (nothing is written).
        """
        dest = os.fspath(dest)
        loose = self.file_path(digest)
        # A packed blob is small: read it once, check those bytes and write them.
        packed = self.read_bytes(digest, verify=False) if loose is None else None
        if verify and not (hash_bytes(packed) == digest if packed is not None else self.verify(digest)):
            raise IntegrityError(f"blob {digest} for {dest} is corrupt in {self.uri}; refusing to serve it")
        folder = os.path.dirname(os.path.abspath(dest))
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.path.basename(dest)}.{os.getpid()}.{os.urandom(4).hex()}.partial")
        try:
            if loose is not None and link and try_link(loose, tmp):
                pass
            elif packed is not None:
                with open(tmp, "wb") as target:
                    target.write(packed)
            elif loose is not None:
                failures: list[BaseException] = []
                with open(tmp, "wb") as target:
                    copy_range(loose, target.fileno(), os.path.getsize(loose), [], failures)
                if failures:
                    raise failures[0]
            else:  # the loose blob went between the two looks: read whatever now holds it
                with self.open(digest) as source, open(tmp, "wb") as target:
                    shutil.copyfileobj(source, target, CHUNK)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    # -- listing, deleting ------------------------------------------------------------------
    def iter_digests(self) -> Iterator[str]:
        """Every blob in the store, loose or packed (each once)."""
        seen: set[str] = set()
        for digest in self.loose_digests():
            seen.add(digest)
            yield digest
        yield from (d for d in self.packs.digests() if d not in seen)

    def loose_digests(self) -> Iterator[str]:
        """The blobs stored as files of their own (packed ones are listed by ``packs``)."""
        for prefix in sorted(os.listdir(self.root)):
            if len(prefix) != 2:
                continue
            for rest in os.listdir(os.path.join(self.root, prefix)):
                yield prefix + rest

    def modified_ms(self, digest: str) -> int:
        """When blob ``digest`` (or its pack) was last written or claimed, in ms since the epoch.

        Raises:
            NotFound: the store does not hold the blob.
        """
        try:
            return int(os.path.getmtime(self.path_of(digest)) * 1000)
        except FileNotFoundError:
            pack = self.packs.pack_path(digest)
            if pack is None:
                raise NotFound(not_stored(digest, self.uri)) from None
            return int(os.path.getmtime(pack) * 1000)

    def delete(self, digest: str) -> None:
        """Delete a loose blob (packed blobs go when garbage collection rewrites their pack)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path_of(digest))
