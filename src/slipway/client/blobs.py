"""The remote platform backend: blobs through the server's ``/api/v1/blobs`` routes.

Services store files the same way in both modes; the server hashes what it receives and refuses
bytes that do not match the digest, and stores an upload only once all of it arrived. Listing,
dating, repairing and deleting blobs happen where the artifact store is, not through the server.

A user bound to projects may download a file of a bundle or folder only through the manifest
that lists it (``?via=``, see :mod:`slipway.server.blob_routes`): the store remembers, for each
file digest, the manifest it last read listing it, and names that manifest when fetching the file
and when asking which files the server lacks: such a user is told a file is missing unless it
could download it, and then uploads it again (the server keeps one copy).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO, NoReturn

from slipway.blobs.base import BlobStore
from slipway.blobs.manifest import is_manifest, manifest_files
from slipway.core.errors import IntegrityError, InvalidInput, NotFound
from slipway.core.hashing import check_digest, hash_bytes, hash_file

if TYPE_CHECKING:
    from slipway.client.transport import HttpSession


class HttpBlobStore(BlobStore):
    """The artifact store of the platform ``session`` talks to."""

    def __init__(self, session: HttpSession) -> None:
        super().__init__(session.base_url + "/api/v1/blobs")
        self.session = session
        self._listed_in: dict[str, str] = {}  # file digest -> a manifest read that lists it

    VIA_MAX = 1_000_000  # remembered file digests; forgotten all at once past this

    def exists(self, digest: str) -> bool:  # noqa: D102 - see BlobStore
        return not self.missing([check_digest(digest)])

    def missing(self, digests: Iterable[str], workers: int = 16) -> list[str]:  # noqa: D102 - see BlobStore
        wanted = sorted(set(digests))
        result: list[str] = []
        for start in range(0, len(wanted), 5000):
            chunk = wanted[start : start + 5000]
            # The manifests read that list these files: a project-bound user's server counts a file
            # of a folder it may read only through one (see slipway.server.blob_routes).
            via = {d: self._listed_in[d] for d in chunk if d in self._listed_in}
            response = self.session.request("POST", "/api/v1/blobs/missing",
                                            json={"digests": chunk, **({"via": via} if via else {})})
            result.extend(response.json()["missing"])
        return result

    def put_bytes(self, data: bytes) -> str:  # noqa: D102 - see BlobStore
        digest = hash_bytes(data)
        if not self.exists(digest):
            self.session.request("PUT", f"/api/v1/blobs/{digest}", content=data)
        return digest

    def put_file(self, path: str | os.PathLike[str], digest: str | None = None) -> str:  # noqa: D102
        digest = digest or hash_file(path)
        if not self.exists(digest):
            with open(path, "rb") as handle:
                self.session.request("PUT", f"/api/v1/blobs/{digest}", content=handle)
        return digest

    def put_stream(self, stream: BinaryIO) -> str:
        """Store a stream (read into memory: the upload names its digest first)."""
        return self.put_bytes(stream.read())

    def read_bytes(self, digest: str, verify: bool = True) -> bytes:  # noqa: D102 - see BlobStore
        check_digest(digest)
        via = self._listed_in.get(digest)
        data = self.session.request("GET", f"/api/v1/blobs/{digest}", params={"via": via} if via else None).content
        if verify and hash_bytes(data) != digest:
            raise IntegrityError(f"blob {digest} arrived corrupt from the server")
        if is_manifest(data):
            self._remember_files(digest, data)
        return data

    def _remember_files(self, manifest: str, data: bytes) -> None:
        try:
            files = manifest_files(data)
        except InvalidInput:
            return
        if len(self._listed_in) + len(files) > self.VIA_MAX:
            self._listed_in.clear()
        self._listed_in.update(dict.fromkeys((d for d, _ in files.values()), manifest))

    def open(self, digest: str) -> BinaryIO:  # noqa: D102 - see BlobStore
        return io.BytesIO(self.read_bytes(digest))

    def size(self, digest: str) -> int:  # noqa: D102 - see BlobStore
        return len(self.read_bytes(digest, verify=False))

    def materialize(self, digest: str, dest: str | os.PathLike[str], link: bool = True, verify: bool = True) -> None:  # noqa: D102
        data = self.read_bytes(digest, verify=verify)
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        tmp = f"{os.fspath(dest)}.part"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, dest)

    def iter_digests(self) -> Iterator[str]:  # noqa: D102 - see BlobStore
        raise NotFound("listing blobs is not available through the server")

    def modified_ms(self, digest: str) -> int:  # noqa: D102 - see BlobStore
        raise NotFound("the dates of blobs are not available through the server; run 'slipway gc' on it")

    def restore(self, digest: str, path: str | os.PathLike[str]) -> NoReturn:  # noqa: D102 - see BlobStore
        raise InvalidInput("repairing blobs is not available through the server; run 'slipway data pull --repair' "
                           "where the artifact store is")

    def delete(self, digest: str) -> NoReturn:  # noqa: D102 - see BlobStore
        raise NotFound("deleting blobs is not available through the server; run 'slipway gc' on it")
