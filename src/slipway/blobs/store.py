"""Content-addressed blobs over fsspec.

A blob lives at ``<root>/<d[:2]>/<d[2:]>`` where ``d`` is its BLAKE3 digest (a *loose* blob),
or, in a local folder, inside a pack of small blobs (``<root>/packs/``, see
:mod:`slipway.blobs.packs`; a folder being added stores its small files that way). Writes are
atomic: bytes go to a temporary name and are renamed into place (local folders) or written in one
object PUT (object stores, where a PUT is atomic), so a reader never sees half a blob. A local
folder takes a fast path through ``os`` rather than fsspec.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from slipway.blobs.packs import PackSet
from slipway.core.errors import BackendUnavailable, IntegrityError, NotFound
from slipway.core.hashing import CHUNK, check_digest, hash_bytes, hash_file

ProgressFn = Callable[[int], None]
COPY_CHUNK = 16 << 20  # the hashing side reads (and BLAKE3 hashes on all cores) this much at a time


def _copy_range(source: str, target_fd: int, size: int, done: list[int], failed: list[BaseException]) -> None:
    """Copy ``size`` bytes of ``source`` into ``target_fd`` inside the kernel (copy_file_range:
    no pass through user space; a reflink where the file system has them)."""
    try:
        with open(source, "rb", buffering=0) as handle:
            copied = 0
            try:
                while copied < size:
                    n = os.copy_file_range(handle.fileno(), target_fd, size - copied, copied, copied)
                    if n == 0:
                        break  # the file shrank
                    copied += n
            except OSError:  # no copy_file_range across these file systems: copy through memory
                os.lseek(target_fd, copied, os.SEEK_SET)
                handle.seek(copied)
                while chunk := handle.read(CHUNK):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(target_fd, view):]
                    copied += len(chunk)
            done.append(copied)
    except BaseException as err:  # reported to the caller
        failed.append(err)


def _try_link(source: str, dest: str) -> bool:
    """Hard-link ``dest`` to ``source``; False when the file systems differ or links are refused."""
    try:
        os.link(source, dest)
        return True
    except OSError:
        return False


def _copy_hashing(source: str, target_fd: int) -> str:
    """Copy the file ``source`` into ``target_fd`` and return its BLAKE3 digest.

    The copy runs in the kernel on one thread while this one reads the file and hashes it
    (BLAKE3 on all cores, GIL released), so copying costs little more than hashing and memory
    stays at one chunk. If the file changed while it was being copied, the digest is taken from
    the copy itself, so a blob always matches its digest.
    """
    import threading

    import blake3

    before = os.stat(source)
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    if before.st_size < COPY_CHUNK:  # small: read once, hash and write from memory
        with open(source, "rb", buffering=0) as handle:
            data = handle.read()
        view = memoryview(data)
        while view:
            view = view[os.write(target_fd, view):]
        return str(hasher.update(data).hexdigest())
    done: list[int] = []
    failed: list[BaseException] = []
    copier = threading.Thread(target=_copy_range, args=(source, target_fd, before.st_size, done, failed),
                              name="slipway-blob-copy", daemon=True)
    copier.start()
    try:
        buffer = bytearray(COPY_CHUNK)
        view = memoryview(buffer)
        with open(source, "rb", buffering=0) as handle:
            while n := handle.readinto(buffer):
                hasher.update(view[:n])
    finally:
        copier.join()
    if failed:
        raise failed[0]
    after = os.stat(source)
    if done != [before.st_size] or (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        return _hash_fd(target_fd)
    return str(hasher.hexdigest())


def _hash_fd(fd: int) -> str:
    import blake3

    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    offset = 0
    while chunk := os.pread(fd, CHUNK, offset):
        hasher.update(chunk)
        offset += len(chunk)
    return str(hasher.hexdigest())


class BlobStore:
    """Immutable blobs addressed by their BLAKE3 digest, in a folder or any fsspec URL."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._fs: Any = None
        if uri.startswith("/") and "://" not in uri:
            # An absolute local path (the default store): plain os calls, fsspec is not imported.
            self.local, root = True, uri
        else:
            import fsspec
            from fsspec.implementations.local import LocalFileSystem

            try:
                self._fs, root = fsspec.core.url_to_fs(uri)
            except (ImportError, ValueError) as err:
                raise BackendUnavailable(f"cannot open artifact store {uri!r}: {err}") from err
            self.local = isinstance(self._fs, LocalFileSystem)
        self.root = root.rstrip("/")
        self._packs: PackSet | None = None
        if self.local:
            Path(self.root, "tmp").mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"BlobStore({self.uri!r})"

    @property
    def fs(self) -> Any:
        """The fsspec file system (created on first use for a local folder)."""
        if self._fs is None:
            from fsspec.implementations.local import LocalFileSystem

            self._fs = LocalFileSystem()
        return self._fs

    @property
    def packs(self) -> PackSet:
        """The packs of small blobs of a local store (see :mod:`slipway.blobs.packs`)."""
        if self._packs is None:
            self._packs = PackSet(self.root)
        return self._packs

    # -- addressing -------------------------------------------------------------------------
    def path_of(self, digest: str) -> str:
        """Where blob ``digest`` lives as a loose blob (a packed blob has no path of its own)."""
        check_digest(digest)
        return f"{self.root}/{digest[:2]}/{digest[2:]}"

    def file_path(self, digest: str) -> str | None:
        """The local file holding exactly blob ``digest``, or None (packed, remote or absent)."""
        if not self.local:
            return None
        path = self.path_of(digest)
        return path if os.path.exists(path) else None

    def exists(self, digest: str) -> bool:
        path = self.path_of(digest)
        if self.local:
            return os.path.exists(path) or self.packs.locate(digest) is not None
        return bool(self.fs.exists(path))

    def missing(self, digests: Iterable[str], workers: int = 16) -> list[str]:
        """The digests of ``digests`` this store does not hold (checked in parallel)."""
        unique = sorted(set(digests))
        if self.local:
            packs = self.packs
            packs.refresh()
            return [d for d in unique if d not in packs and not os.path.exists(self.path_of(d))]
        with ThreadPoolExecutor(workers) as pool:
            flags = list(pool.map(self.exists, unique))
        return [d for d, present in zip(unique, flags, strict=True) if not present]

    # -- writing ----------------------------------------------------------------------------
    def put_bytes(self, data: bytes) -> str:
        digest = hash_bytes(data)
        if not self.claim(digest):
            self._write(digest, lambda handle: handle.write(data))
        return digest

    def claim(self, digest: str) -> bool:
        """Whether the blob exists; if so (locally) its mtime (or its pack's) is refreshed, because
        garbage collection spares young blobs and a writer about to reference an old unreferenced
        blob must not lose it to a collection running in between. A pack published by another
        process a moment ago may be missed; the caller then stores a second copy, which is harmless."""
        if not self.local:
            return self.exists(digest)
        try:
            os.utime(self.path_of(digest))
            return True
        except FileNotFoundError:
            return self.packs.touch(digest, fresh=False)
        except PermissionError:  # a store owned by another user: existence is all we can tell
            return True

    def put_file(self, path: str | os.PathLike[str], digest: str | None = None) -> str:
        """Store a file's bytes; ``digest`` may be passed when already known (e.g. from a cache)."""
        digest = digest or hash_file(path)
        if self.claim(digest):
            return digest
        if self.local:
            self._local_copy_in(os.fspath(path), digest)
        else:
            with open(path, "rb") as source:
                self._write(digest, lambda handle: shutil.copyfileobj(source, handle, CHUNK))
        return digest

    def adopt(self, path: str | os.PathLike[str], digest: str) -> None:
        """Store the file ``path`` (already hashed to ``digest``) and remove it. In a local store
        it is renamed into place, so ``path`` must be in the store's ``tmp`` folder (see
        :meth:`temporary_folder`)."""
        try:
            if self.claim(digest):
                return
            if not self.local:
                self.put_file(path, digest)
                return
            final = self.path_of(digest)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.chmod(path, 0o444)
            os.replace(path, final)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def temporary_folder(self) -> str | None:
        """Where half-written files of a local store go (``None`` for other stores); garbage
        collection removes the stale ones."""
        return self._tmp_dir()

    def put_file_hashing(self, path: str | os.PathLike[str]) -> str:
        """Store a file whose digest is not known yet, hashing and copying at once. Returns its digest.

        In a local store the file is copied to a temporary file in the store inside the kernel
        (``copy_file_range``) while this thread hashes it (BLAKE3 on all cores); the temporary
        file is then renamed to its digest, or dropped when the store already holds that blob.
        Memory stays at one chunk whatever the file's size (nothing is memory-mapped).
        """
        if not self.local:
            return self.put_file(path)
        fd, tmp = tempfile.mkstemp(dir=self._tmp_dir(), prefix="ingest-")
        try:
            try:
                digest = _copy_hashing(os.fspath(path), fd)
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
        if self.local:
            self._local_copy_in(os.fspath(path), digest)  # temporary file, then an atomic rename over it
        else:
            with open(path, "rb") as source:
                self._write(digest, lambda handle: shutil.copyfileobj(source, handle, CHUNK))

    def put_stream(self, stream: BinaryIO) -> str:
        """Store a stream of unknown digest: spool it to a temporary file while hashing."""
        with tempfile.NamedTemporaryFile(dir=self._tmp_dir(), delete=False) as spool:
            shutil.copyfileobj(stream, spool, CHUNK)
        try:
            return self.put_file(spool.name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool.name)

    def _tmp_dir(self) -> str | None:
        return os.path.join(self.root, "tmp") if self.local else None

    def _local_copy_in(self, source: str, digest: str) -> None:
        final = self.path_of(digest)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._tmp_dir(), prefix=digest[:8])
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
        if self.local:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._tmp_dir(), prefix=digest[:8])
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
        else:
            # One PUT per object is atomic on object stores; a failed PUT leaves nothing.
            with self.fs.open(final, "wb") as handle:
                fill(handle)

    # -- reading ----------------------------------------------------------------------------
    def open(self, digest: str) -> BinaryIO:
        path = self.path_of(digest)
        try:
            if self.local:
                return open(path, "rb")
            return self.fs.open(path, "rb")  # type: ignore[no-any-return]
        except FileNotFoundError as err:
            packed = self.packs.read(digest) if self.local else None
            if packed is None:
                raise NotFound(f"blob {digest} is not in the artifact store {self.uri}") from err
            import io

            return io.BytesIO(packed)

    def read_bytes(self, digest: str, verify: bool = True) -> bytes:
        with self.open(digest) as handle:
            data = handle.read()
        if verify and hash_bytes(data) != digest:
            raise IntegrityError(f"blob {digest} in {self.uri} is corrupt: its bytes hash to {hash_bytes(data)}")
        return data

    def verify(self, digest: str) -> bool:
        """Whether the stored bytes still hash to ``digest``."""
        if self.local:
            try:
                return hash_file(self.path_of(digest)) == digest
            except FileNotFoundError:
                pass  # packed, or absent (read_bytes says which)
        return hash_bytes(self.read_bytes(digest, verify=False)) == digest

    def size(self, digest: str) -> int:
        path = self.path_of(digest)
        try:
            return os.path.getsize(path) if self.local else int(self.fs.size(path))
        except FileNotFoundError as err:
            packed = self.packs.locate(digest) if self.local else None
            if packed is None:
                raise NotFound(f"blob {digest} is not in the artifact store {self.uri}") from err
            return packed[2]

    def materialize(self, digest: str, dest: str | os.PathLike[str], link: bool = True, verify: bool = True) -> None:
        """Write blob ``digest`` to the file ``dest``: a hard link to the stored (read-only) blob
        when ``link`` and possible, else a copy (copy_file_range: a reflink where the file system
        has them). The file appears whole or not at all (a temporary name, then a rename, which
        replaces a symlink at ``dest`` rather than writing through it).

        Raises IntegrityError (and writes nothing) when ``verify`` is set and the bytes do not
        match the digest.
        """
        dest = os.fspath(dest)
        loose = self.file_path(digest)
        # A packed blob is small: read it once, check those bytes and write them.
        packed = self.read_bytes(digest, verify=False) if self.local and loose is None else None
        if verify and not (hash_bytes(packed) == digest if packed is not None else self.verify(digest)):
            raise IntegrityError(f"blob {digest} for {dest} is corrupt in {self.uri}; refusing to serve it")
        folder = os.path.dirname(os.path.abspath(dest))
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.path.basename(dest)}.{os.getpid()}.{os.urandom(4).hex()}.partial")
        try:
            if loose is not None and link and _try_link(loose, tmp):
                pass
            elif packed is not None:
                with open(tmp, "wb") as target:
                    target.write(packed)
            elif loose is not None:
                failures: list[BaseException] = []
                with open(tmp, "wb") as target:
                    _copy_range(loose, target.fileno(), os.path.getsize(loose), [], failures)
                if failures:
                    raise failures[0]
            else:
                with self.open(digest) as source, open(tmp, "wb") as target:
                    shutil.copyfileobj(source, target, CHUNK)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    # -- listing, copying, deleting --------------------------------------------------------
    def iter_digests(self) -> Iterator[str]:
        """Every blob in the store, loose or packed (each once)."""
        seen: set[str] = set()
        for digest in self.loose_digests():
            seen.add(digest)
            yield digest
        if self.local:
            yield from (d for d in self.packs.digests() if d not in seen)

    def loose_digests(self) -> Iterator[str]:
        """The blobs stored as files of their own (packed ones are listed by ``packs``)."""
        if self.local:
            for prefix in sorted(os.listdir(self.root)):
                if len(prefix) != 2:
                    continue
                for rest in os.listdir(os.path.join(self.root, prefix)):
                    yield prefix + rest
            return
        for path in self.fs.find(self.root):
            parts = path.rstrip("/").split("/")
            if len(parts) >= 2 and len(parts[-2]) == 2 and len(parts[-1]) == 62:
                yield parts[-2] + parts[-1]

    def modified_ms(self, digest: str) -> int:
        path = self.path_of(digest)
        if self.local:
            try:
                return int(os.path.getmtime(path) * 1000)
            except FileNotFoundError:
                pack = self.packs.pack_path(digest)
                if pack is None:
                    raise NotFound(f"blob {digest} is not in the artifact store {self.uri}") from None
                return int(os.path.getmtime(pack) * 1000)
        info = self.fs.info(path)
        mtime = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
        return int(mtime.timestamp() * 1000) if hasattr(mtime, "timestamp") else int(float(mtime) * 1000)

    def delete(self, digest: str) -> None:
        """Delete a loose blob (packed blobs go when garbage collection rewrites their pack)."""
        path = self.path_of(digest)
        with contextlib.suppress(FileNotFoundError):
            if self.local:
                os.unlink(path)
            else:
                self.fs.rm(path)

    def copy_to(
        self, other: BlobStore, digests: Iterable[str], workers: int = 8, progress: ProgressFn | None = None
    ) -> int:
        """Copy the blobs of ``digests`` that ``other`` lacks, in parallel. Returns how many moved.

        Each copy is atomic on the target, so an interrupted copy resumes by simply running again.
        """
        todo = other.missing(digests)

        def copy_one(digest: str) -> int:
            loose = self.file_path(digest)
            if loose is not None:
                other.put_file(loose, digest=digest)
            else:
                with self.open(digest) as source:
                    other._write(digest, lambda handle: shutil.copyfileobj(source, handle, CHUNK))
            if progress:
                progress(1)
            return 1

        with ThreadPoolExecutor(max(1, workers)) as pool:
            return sum(pool.map(copy_one, todo))
