"""The blob store interface: immutable blobs addressed by their BLAKE3 digest.

One module per backend implements it: :mod:`slipway.blobs.local` (a folder, small blobs in packs),
:mod:`slipway.blobs.objectstore` (any fsspec URL: ``s3://``, ``gs://``, ``memory://``…) and
:mod:`slipway.client.blobs` (a remote platform's ``/api/v1/blobs`` routes). Pick one from a URI
with :func:`slipway.blobs.store.open_blob_store`; ``BlobStore(uri)`` does the same, for the callers
written before the split. ``tests/blobs/test_contract.py`` holds the contract every backend passes.

Every backend writes atomically: a reader never sees part of a blob, and a failed write leaves
no blob behind. A malformed digest is refused with ``InvalidInput`` by every method taking one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from slipway.core.errors import IntegrityError
from slipway.core.hashing import CHUNK, hash_bytes

ProgressFn = Callable[[int], None]


class _OpensBackend(ABCMeta):
    """Makes ``BlobStore(uri)`` open the backend ``uri`` names (what it did before the split)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> BlobStore:
        if cls is BlobStore:
            from slipway.blobs.store import open_blob_store

            return open_blob_store(*args, **kwargs)
        return super().__call__(*args, **kwargs)


class BlobStore(metaclass=_OpensBackend):
    """Immutable blobs addressed by their BLAKE3 digest.

    Attributes:
        uri: where the store is, as the user named it (used in messages).
        local: whether the blobs are files on this machine (a :class:`LocalBlobStore`).
    """

    uri: str
    local: bool = False

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"

    # -- the interface ----------------------------------------------------------------------
    @abstractmethod
    def exists(self, digest: str) -> bool:
        """Whether the store holds blob ``digest``.

        Raises:
            InvalidInput: ``digest`` is not a BLAKE3 digest.
        """

    @abstractmethod
    def missing(self, digests: Iterable[str], workers: int = 16) -> list[str]:
        """The digests of ``digests`` this store does not hold, sorted and each once.

        Raises:
            InvalidInput: one of ``digests`` is not a BLAKE3 digest.
        """

    @abstractmethod
    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` (nothing is written if the store already holds it). Returns its digest."""

    @abstractmethod
    def put_file(self, path: str | os.PathLike[str], digest: str | None = None) -> str:
        """Store the bytes of the file ``path``; ``digest`` may be passed when already known.

        Returns:
            The digest the blob is stored under.

        Raises:
            IntegrityError: (remote stores) the bytes do not hash to the ``digest`` passed.
        """

    @abstractmethod
    def open(self, digest: str) -> BinaryIO:
        """A binary stream of blob ``digest`` (not verified; see :meth:`read_bytes`).

        Raises:
            NotFound: the store does not hold the blob.
        """

    def read_bytes(self, digest: str, verify: bool = True) -> bytes:
        """The bytes of blob ``digest`` (read through :meth:`open`; a backend may read faster).

        Raises:
            NotFound: the store does not hold the blob.
            IntegrityError: ``verify`` is set and the bytes do not hash to ``digest``.
        """
        with self.open(digest) as handle:
            data = handle.read()
        if verify and hash_bytes(data) != digest:
            raise IntegrityError(f"blob {digest} in {self.uri} is corrupt: its bytes hash to {hash_bytes(data)}")
        return data

    @abstractmethod
    def size(self, digest: str) -> int:
        """The size of blob ``digest`` in bytes.

        Raises:
            NotFound: the store does not hold the blob.
        """

    @abstractmethod
    def materialize(self, digest: str, dest: str | os.PathLike[str], link: bool = True, verify: bool = True) -> None:
        """Write blob ``digest`` to the file ``dest``, whole or not at all (a temporary name, then a
        rename). A local store may hard-link its read-only blob when ``link`` is set.

        Raises:
            NotFound: the store does not hold the blob.
            IntegrityError: ``verify`` is set and the bytes do not match (nothing is written).
        """

    @abstractmethod
    def iter_digests(self) -> Iterator[str]:
        """Every blob in the store, each once.

        Raises:
            NotFound: the backend cannot list its blobs (a remote platform).
        """

    @abstractmethod
    def modified_ms(self, digest: str) -> int:
        """When blob ``digest`` was last written (or, locally, claimed), in ms since the epoch.

        Raises:
            NotFound: the store does not hold the blob, or the backend cannot tell (a remote platform).
        """

    @abstractmethod
    def restore(self, digest: str, path: str | os.PathLike[str]) -> None:
        """Write a good copy of blob ``digest`` from the file ``path`` over a corrupt one.

        Raises:
            IntegrityError: the file's bytes do not hash to ``digest`` (nothing is written).
            InvalidInput: the backend cannot repair blobs (a remote platform).
        """

    @abstractmethod
    def delete(self, digest: str) -> None:
        """Delete blob ``digest`` if it is stored loose (deleting an absent blob is not an error).

        Raises:
            NotFound: the backend cannot delete blobs (a remote platform).
        """

    # -- shared behaviour, in terms of the interface; backends override where they do better --
    def put_stream(self, stream: BinaryIO) -> str:
        """Store a stream of unknown digest (spooled to a temporary file while it is read)."""
        with tempfile.NamedTemporaryFile(dir=self.temporary_folder(), delete=False) as spool:
            shutil.copyfileobj(stream, spool, CHUNK)
        try:
            return self.put_file(spool.name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(spool.name)

    def verify(self, digest: str) -> bool:
        """Whether the stored bytes still hash to ``digest``.

        Raises:
            NotFound: the store does not hold the blob.
        """
        return hash_bytes(self.read_bytes(digest, verify=False)) == digest

    def file_path(self, digest: str) -> str | None:
        """The local file holding exactly blob ``digest``, or None (packed, remote or absent)."""
        return None

    def claim(self, digest: str) -> bool:
        """Whether the blob exists (a local store also marks it as recently used; see there)."""
        return self.exists(digest)

    def put_file_hashing(self, path: str | os.PathLike[str]) -> str:
        """Store a file whose digest is not known yet. Returns its digest."""
        return self.put_file(path)

    def adopt(self, path: str | os.PathLike[str], digest: str) -> None:
        """Store the file ``path`` (already hashed to ``digest``) and remove it."""
        try:
            if not self.claim(digest):
                self.put_file(path, digest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def temporary_folder(self) -> str | None:
        """Where half-written files of the store go (``None``: the system's temporary folder)."""
        return None

    def loose_digests(self) -> Iterator[str]:
        """The blobs stored as objects of their own (all of them, except in a local store's packs)."""
        return self.iter_digests()

    def copy_to(
        self, other: BlobStore, digests: Iterable[str], workers: int = 8, progress: ProgressFn | None = None
    ) -> int:
        """Copy the blobs of ``digests`` that ``other`` lacks, in parallel. Returns how many moved.

        Each copy is atomic on the target, so an interrupted copy resumes by simply running again.
        """
        from concurrent.futures import ThreadPoolExecutor

        todo = other.missing(digests)

        def copy_one(digest: str) -> int:
            loose = self.file_path(digest)
            if loose is not None:
                other.put_file(loose, digest=digest)
            else:
                with self.open(digest) as source:
                    other.put_stream(source)
            if progress:
                progress(1)
            return 1

        with ThreadPoolExecutor(max(1, workers)) as pool:
            return sum(pool.map(copy_one, todo))


def not_stored(digest: str, uri: str) -> str:
    """The message of the ``NotFound`` raised for an absent blob."""
    return f"blob {digest} is not in the artifact store {uri}"
