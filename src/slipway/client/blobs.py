"""Blobs in remote mode: uploads and downloads through the server's ``/api/v1/blobs`` routes.

It keeps the :class:`BlobStore` interface, so services store files the same way in both modes;
the server hashes what it receives and refuses bytes that do not match the digest.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from slipway.blobs.store import BlobStore
from slipway.core.errors import IntegrityError, InvalidInput, NotFound
from slipway.core.hashing import check_digest, hash_bytes, hash_file

if TYPE_CHECKING:
    from slipway.client.transport import HttpSession


class HttpBlobStore(BlobStore):
    def __init__(self, session: HttpSession) -> None:  # noqa: D107 - no local root
        self.session = session
        self.uri = session.base_url + "/api/v1/blobs"
        self.local = False
        self.root = ""
        self._packs = None

    def exists(self, digest: str) -> bool:
        return not self.missing([digest])

    def missing(self, digests: Iterable[str], workers: int = 16) -> list[str]:
        wanted = sorted(set(digests))
        result: list[str] = []
        for start in range(0, len(wanted), 5000):
            response = self.session.request("POST", "/api/v1/blobs/missing", json={"digests": wanted[start : start + 5000]})
            result.extend(response.json()["missing"])
        return result

    def put_bytes(self, data: bytes) -> str:
        digest = hash_bytes(data)
        if not self.exists(digest):
            self.session.request("PUT", f"/api/v1/blobs/{digest}", content=data)
        return digest

    def put_file(self, path: str | os.PathLike[str], digest: str | None = None) -> str:
        digest = digest or hash_file(path)
        if not self.exists(digest):
            with open(path, "rb") as handle:
                self.session.request("PUT", f"/api/v1/blobs/{digest}", content=handle)
        return digest

    def put_stream(self, stream: BinaryIO) -> str:
        return self.put_bytes(stream.read())

    def read_bytes(self, digest: str, verify: bool = True) -> bytes:
        check_digest(digest)
        data = self.session.request("GET", f"/api/v1/blobs/{digest}").content
        if verify and hash_bytes(data) != digest:
            raise IntegrityError(f"blob {digest} arrived corrupt from the server")
        return data

    def open(self, digest: str) -> BinaryIO:
        import io

        return io.BytesIO(self.read_bytes(digest))

    def verify(self, digest: str) -> bool:
        return hash_bytes(self.read_bytes(digest, verify=False)) == digest

    def size(self, digest: str) -> int:
        return len(self.read_bytes(digest, verify=False))

    def materialize(self, digest: str, dest: str | os.PathLike[str], link: bool = True, verify: bool = True) -> None:
        data = self.read_bytes(digest, verify=verify)
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        tmp = f"{os.fspath(dest)}.part"
        with open(tmp, "wb") as handle:
            handle.write(data)
        shutil.move(tmp, dest)

    def iter_digests(self) -> Iterator[str]:
        raise NotFound("listing blobs is not available through the server")

    def loose_digests(self) -> Iterator[str]:
        return self.iter_digests()

    def restore(self, digest: str, path: str | os.PathLike[str]) -> None:
        raise InvalidInput("repairing blobs is not available through the server; run 'slipway data pull --repair' "
                           "where the artifact store is")

    def delete(self, digest: str) -> None:
        raise NotFound("deleting blobs is not available through the server; run 'slipway gc' on it")
