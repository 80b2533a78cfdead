"""The object store backend: blobs as objects under any fsspec URL (``s3://``, ``gs://``,
``memory://``…), at ``<root>/<d[:2]>/<d[2:]>`` where ``d`` is the BLAKE3 digest.

Each blob is written through a file opened with ``autocommit=False`` and committed only once all
its bytes are in (a completed multipart upload), so a failed write leaves nothing (``memory://``,
which ignores ``autocommit``, is given the whole blob in one assignment instead).
fsspec (and the driver of the URL's scheme, e.g. s3fs) is imported here only.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

from slipway.blobs.base import BlobStore, not_stored
from slipway.core.errors import IntegrityError, NotFound
from slipway.core.hashing import CHUNK, check_digest, hash_bytes, hash_file


class ObjectBlobStore(BlobStore):
    """Blobs in the fsspec file system ``fs`` under ``root`` (``uri`` is the URL as given)."""

    def __init__(self, uri: str, fs: Any, root: str) -> None:
        self.uri = uri
        self.fs = fs
        self.root = root.rstrip("/")

    def path_of(self, digest: str) -> str:
        """The object key of blob ``digest``."""
        check_digest(digest)
        return f"{self.root}/{digest[:2]}/{digest[2:]}"

    def exists(self, digest: str) -> bool:  # noqa: D102 - see BlobStore
        return bool(self.fs.exists(self.path_of(digest)))

    def missing(self, digests: Iterable[str], workers: int = 16) -> list[str]:  # noqa: D102 - see BlobStore
        unique = sorted(set(digests))
        with ThreadPoolExecutor(workers) as pool:
            flags = list(pool.map(self.exists, unique))
        return [d for d, present in zip(unique, flags, strict=True) if not present]

    # -- writing ----------------------------------------------------------------------------
    def put_bytes(self, data: bytes) -> str:  # noqa: D102 - see BlobStore
        digest = hash_bytes(data)
        if not self.exists(digest):
            self._write(digest, lambda handle: handle.write(data))
        return digest

    def put_file(self, path: str | os.PathLike[str], digest: str | None = None) -> str:  # noqa: D102
        digest = digest or hash_file(path)
        if not self.exists(digest):
            self._copy_in(path, digest)
        return digest

    def restore(self, digest: str, path: str | os.PathLike[str]) -> None:  # noqa: D102 - see BlobStore
        actual = hash_file(path)
        if actual != digest:
            raise IntegrityError(f"the copy of blob {digest} hashes to {actual}; not restored")
        self._copy_in(path, digest)

    def _copy_in(self, path: str | os.PathLike[str], digest: str) -> None:
        with open(path, "rb") as source:
            self._write(digest, lambda handle: shutil.copyfileobj(source, handle, CHUNK))

    def _write(self, digest: str, fill: Callable[[BinaryIO], object]) -> None:
        if "memory" in _protocols(self.fs):
            # memory:// publishes a file when it is opened, whatever autocommit says: fill a buffer,
            # then publish it in one assignment.
            buffer = io.BytesIO()
            fill(buffer)
            self.fs.pipe_file(self.path_of(digest), buffer.getvalue())
            return
        handle = self.fs.open(self.path_of(digest), "wb", autocommit=False)
        try:
            fill(handle)
            handle.close()
        except BaseException:
            with contextlib.suppress(Exception):
                handle.discard()  # aborts a multipart upload; nothing was committed
            with contextlib.suppress(Exception):
                handle.closed = True  # a discarded file must not upload its buffer when collected
            raise
        handle.commit()

    # -- reading ----------------------------------------------------------------------------
    def open(self, digest: str) -> BinaryIO:  # noqa: D102 - see BlobStore
        try:
            return self.fs.open(self.path_of(digest), "rb")
        except FileNotFoundError as err:
            raise NotFound(not_stored(digest, self.uri)) from err

    def size(self, digest: str) -> int:  # noqa: D102 - see BlobStore
        try:
            return int(self.fs.size(self.path_of(digest)))
        except FileNotFoundError as err:
            raise NotFound(not_stored(digest, self.uri)) from err

    def materialize(self, digest: str, dest: str | os.PathLike[str], link: bool = True, verify: bool = True) -> None:  # noqa: D102
        dest = os.fspath(dest)
        if verify and not self.verify(digest):
            raise IntegrityError(f"blob {digest} for {dest} is corrupt in {self.uri}; refusing to serve it")
        folder = os.path.dirname(os.path.abspath(dest))
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{os.path.basename(dest)}.{os.getpid()}.{os.urandom(4).hex()}.partial")
        try:
            with self.open(digest) as source, open(tmp, "wb") as target:
                shutil.copyfileobj(source, target, CHUNK)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    # -- listing, deleting ------------------------------------------------------------------
    def iter_digests(self) -> Iterator[str]:  # noqa: D102 - see BlobStore
        for path in self.fs.find(self.root):
            parts = path.rstrip("/").split("/")
            if len(parts) >= 2 and len(parts[-2]) == 2 and len(parts[-1]) == 62:
                yield parts[-2] + parts[-1]

    def modified_ms(self, digest: str) -> int:  # noqa: D102 - see BlobStore
        try:
            info = self.fs.info(self.path_of(digest))
        except FileNotFoundError as err:
            raise NotFound(not_stored(digest, self.uri)) from err
        mtime = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
        return int(mtime.timestamp() * 1000) if hasattr(mtime, "timestamp") else int(float(mtime) * 1000)

    def delete(self, digest: str) -> None:  # noqa: D102 - see BlobStore
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.path_of(digest))


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
