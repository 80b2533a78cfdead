"""The contract every blob store backend keeps, subclassed per backend (the way Dagster tests its
storages): a local folder, fsspec ``memory://``, S3 (moto's server on loopback, through s3fs) and
a remote platform (a real ``slipway server`` on loopback, through the HTTP client)."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from slipway.blobs.base import BlobStore
from slipway.blobs.local import LocalBlobStore
from slipway.blobs.objectstore import ObjectBlobStore
from slipway.blobs.store import open_blob_store
from slipway.client.blobs import HttpBlobStore
from slipway.client.transport import HttpSession
from slipway.core.errors import IntegrityError, InvalidInput, NotFound
from slipway.core.hashing import hash_bytes
from tests.support import GERMAN, free_port, make_settings, platform_server

ABSENT = hash_bytes(b"never stored")


class BlobStoreContract:
    """The behaviour every backend shares. A subclass provides the ``store`` fixture and says how
    to change a stored blob behind the store's back and how to break a write half-way."""

    can_maintain = True  # lists, dates, repairs and deletes blobs (not through a remote platform)

    @pytest.fixture
    def store(self) -> Iterator[BlobStore]:
        raise NotImplementedError

    def corrupt(self, store: BlobStore, digest: str, data: bytes) -> None:
        """Replace the stored bytes of ``digest`` with ``data``, as a failing disk would."""
        raise NotImplementedError

    def fail_writing(self, store: BlobStore, digest: str, first: bytes) -> None:
        """Start writing blob ``digest`` through the backend, send ``first`` and fail."""
        raise NotImplementedError

    # -- put, open, exists, missing, read ------------------------------------------------------
    def test_put_bytes_then_read_open_size_exists(self, store: BlobStore) -> None:
        data = GERMAN.read_bytes()
        digest = store.put_bytes(data)
        assert digest == hash_bytes(data)
        assert store.put_bytes(data) == digest  # idempotent
        assert store.exists(digest) and not store.exists(ABSENT)
        assert store.read_bytes(digest) == data
        with store.open(digest) as handle:
            assert handle.read() == data
        assert store.size(digest) == len(data)
        assert store.verify(digest)

    def test_put_file_and_stream(self, store: BlobStore, tmp_path: Path) -> None:
        data = GERMAN.read_bytes()[:5000]
        source = tmp_path / "part.data"
        source.write_bytes(data)
        assert store.put_file(source) == hash_bytes(data)
        assert store.put_file(source, digest=hash_bytes(data)) == hash_bytes(data)
        assert store.put_file_hashing(source) == hash_bytes(data)
        other = data + b"\n"
        assert store.put_stream(io.BytesIO(other)) == hash_bytes(other)
        assert store.read_bytes(hash_bytes(other)) == other

    def test_missing_names_each_absent_digest_once_sorted(self, store: BlobStore) -> None:
        kept = store.put_bytes(b"kept")
        absent = sorted({hash_bytes(b"a"), hash_bytes(b"b")})
        assert store.missing([absent[1], kept, absent[0], absent[1]]) == absent
        assert store.missing([]) == []

    def test_an_absent_blob_is_not_found_everywhere(self, store: BlobStore, tmp_path: Path) -> None:
        for read in (store.read_bytes, store.open, store.size, store.verify):
            with pytest.raises(NotFound, match=ABSENT):
                read(ABSENT)
        (tmp_path / "out").mkdir()
        with pytest.raises(NotFound):
            store.materialize(ABSENT, tmp_path / "out" / "absent.bin")
        assert os.listdir(tmp_path / "out") == []  # no file, no temporary file

    def test_a_malformed_digest_is_refused_naming_it(self, store: BlobStore) -> None:
        for call in (store.exists, store.read_bytes, lambda d: store.missing([d])):
            with pytest.raises(InvalidInput, match="not-a-digest"):
                call("not-a-digest")

    def test_materialize_writes_the_blob_whole(self, store: BlobStore, tmp_path: Path) -> None:
        data = GERMAN.read_bytes()
        digest = store.put_bytes(data)
        for link in (True, False):
            dest = tmp_path / f"link-{link}" / "german.data"
            store.materialize(digest, dest, link=link)
            assert dest.read_bytes() == data and os.listdir(dest.parent) == ["german.data"]

    # -- copying -----------------------------------------------------------------------------
    def test_copy_in_and_out_moves_only_what_is_missing(self, store: BlobStore, tmp_path: Path) -> None:
        local = LocalBlobStore(str(tmp_path / "local"))
        digests = [local.put_bytes(f"blob {i}".encode()) for i in range(5)]
        store.put_bytes(b"blob 0")
        assert local.copy_to(store, digests) == 4
        assert store.missing(digests) == [] and local.copy_to(store, digests) == 0
        back = LocalBlobStore(str(tmp_path / "back"))
        assert store.copy_to(back, digests, workers=2) == 5
        assert [back.read_bytes(d) for d in digests] == [f"blob {i}".encode() for i in range(5)]

    # -- atomicity and verification ---------------------------------------------------------
    def test_a_failed_write_leaves_no_blob(self, store: BlobStore) -> None:
        data = os.urandom(1 << 20)
        digest = hash_bytes(data)
        with pytest.raises(Exception, match="broke"):
            self.fail_writing(store, digest, data[: 1 << 19])
        assert not store.exists(digest) and store.missing([digest]) == [digest]
        with pytest.raises(NotFound):
            store.read_bytes(digest)
        assert store.put_bytes(data) == digest and store.read_bytes(digest) == data  # a retry succeeds

    def test_corrupt_bytes_are_refused_on_read(self, store: BlobStore, tmp_path: Path) -> None:
        data = GERMAN.read_bytes()
        digest = store.put_bytes(data)
        self.corrupt(store, digest, data[:-10] + b"0123456789")
        with pytest.raises(IntegrityError, match=digest):
            store.read_bytes(digest)
        assert store.read_bytes(digest, verify=False).endswith(b"0123456789")
        assert not store.verify(digest)
        with pytest.raises(IntegrityError, match=digest):
            store.materialize(digest, tmp_path / "out" / "german.data")
        assert not (tmp_path / "out" / "german.data").exists()

    # -- maintenance: where the store is, not through a remote platform -----------------------
    def test_listing_dating_repairing_and_deleting(self, store: BlobStore, tmp_path: Path) -> None:
        data = GERMAN.read_bytes()
        digest = store.put_bytes(data)
        good = tmp_path / "good.data"
        good.write_bytes(data)
        bad = tmp_path / "bad.data"
        bad.write_bytes(b"something else")
        if not self.can_maintain:
            for refused in (lambda: list(store.iter_digests()), lambda: store.modified_ms(digest),
                            lambda: store.delete(digest)):
                with pytest.raises(NotFound, match="not available through the server"):
                    refused()
            with pytest.raises(InvalidInput, match="repair"):
                store.restore(digest, good)
            assert store.read_bytes(digest) == data
            return
        assert list(store.iter_digests()) == [digest] and list(store.loose_digests()) == [digest]
        assert store.modified_ms(digest) > 0
        with pytest.raises(NotFound):
            store.modified_ms(ABSENT)
        self.corrupt(store, digest, b"rotten")
        with pytest.raises(IntegrityError, match=digest):
            store.restore(digest, bad)
        assert store.read_bytes(digest, verify=False) == b"rotten"  # the refused copy wrote nothing
        store.restore(digest, good)
        assert store.read_bytes(digest) == data
        store.delete(digest)
        store.delete(digest)  # deleting an absent blob is not an error
        assert not store.exists(digest) and list(store.iter_digests()) == []


def _half_then_break(first: bytes) -> object:
    def fill(handle: io.BufferedIOBase) -> None:
        handle.write(first)
        raise OSError("the source broke half-way")

    return fill


class TestLocalFolder(BlobStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[BlobStore]:
        store = BlobStore(str(tmp_path / "artifacts"))  # the factory, through the old constructor
        assert isinstance(store, LocalBlobStore) and store.local
        yield store
        assert os.listdir(Path(store.root, "tmp")) == []  # no temporary file left behind

    def corrupt(self, store: BlobStore, digest: str, data: bytes) -> None:
        assert isinstance(store, LocalBlobStore)
        path = store.path_of(digest)
        os.chmod(path, 0o644)
        Path(path).write_bytes(data)

    def fail_writing(self, store: BlobStore, digest: str, first: bytes) -> None:
        assert isinstance(store, LocalBlobStore)
        store._write(digest, _half_then_break(first))  # type: ignore[arg-type]


class TestObjectStoreMemory(BlobStoreContract):
    @pytest.fixture
    def store(self) -> Iterator[BlobStore]:
        store = open_blob_store(f"memory://slipway-{uuid.uuid4().hex[:12]}/store")
        assert isinstance(store, ObjectBlobStore) and not store.local and store.file_path(ABSENT) is None
        yield store

    def corrupt(self, store: BlobStore, digest: str, data: bytes) -> None:
        assert isinstance(store, ObjectBlobStore)
        store.fs.pipe_file(store.path_of(digest), data)

    def fail_writing(self, store: BlobStore, digest: str, first: bytes) -> None:
        assert isinstance(store, ObjectBlobStore)
        store._write(digest, _half_then_break(first))  # type: ignore[arg-type]


class TestObjectStoreS3(TestObjectStoreMemory):
    @pytest.fixture
    def store(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[BlobStore]:
        from moto.server import ThreadedMotoServer

        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        for name, value in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "slipway-test",
                            "AWS_SECRET_ACCESS_KEY": "slipway-test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(name, value)
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        bucket = f"slipway-contract-{uuid.uuid4().hex[:12]}"
        s3fs.S3FileSystem().mkdir(bucket)
        try:
            store = open_blob_store(f"s3://{bucket}/store")
            assert isinstance(store, ObjectBlobStore) and isinstance(store.fs, s3fs.S3FileSystem)
            yield store
        finally:
            s3fs.S3FileSystem.clear_instance_cache()
            server.stop()


class TestRemotePlatform(BlobStoreContract):
    can_maintain = False

    @pytest.fixture
    def store(self, home: Path) -> Iterator[BlobStore]:
        settings = make_settings(home)
        with platform_server(settings) as (url, token):
            self.backing = LocalBlobStore(settings.resolved_artifacts_uri)
            self.session = HttpSession(url, token)
            yield HttpBlobStore(self.session)
        self.session.client.close()

    def corrupt(self, store: BlobStore, digest: str, data: bytes) -> None:
        path = self.backing.path_of(digest)  # the server's own store, behind its back
        os.chmod(path, 0o644)
        Path(path).write_bytes(data)

    def fail_writing(self, store: BlobStore, digest: str, first: bytes) -> None:
        def body() -> Iterator[bytes]:
            yield first
            raise OSError("the upload broke half-way")

        try:
            self.session.client.put(f"/api/v1/blobs/{digest}", content=body())
        except httpx.HTTPError as err:  # what the client sees of a connection dropped mid-body
            raise OSError(f"the upload broke: {err}") from err
