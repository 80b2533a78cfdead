"""The content-addressed blob store: idempotent atomic puts, corruption detected, never served."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slipway.blobs.store import BlobStore
from slipway.core.errors import IntegrityError, InvalidInput, NotFound
from slipway.core.hashing import hash_bytes
from tests.support import GERMAN


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_same_content_twice_is_one_blob(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "blobs"))
    data = GERMAN.read_bytes()
    first = store.put_bytes(data)
    second = store.put_file(GERMAN)
    assert first == second == hash_bytes(data)
    assert len(_files(tmp_path / "blobs")) == 1  # one blob, no temporaries left behind
    assert store.read_bytes(first) == data
    assert os.stat(store.path_of(first)).st_mode & 0o222 == 0  # stored read-only
    assert sorted(store.iter_digests()) == [first]
    assert store.missing([first, "0" * 64]) == ["0" * 64]


def test_stream_put_and_copy_between_stores(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "a"))
    with open(GERMAN, "rb") as handle:
        digest = store.put_stream(handle)
    other = BlobStore("memory://slipway-test-copy")
    assert store.copy_to(other, [digest]) == 1
    assert store.copy_to(other, [digest]) == 0  # already there
    assert other.read_bytes(digest) == GERMAN.read_bytes()


def test_corrupt_blob_is_detected_and_not_served(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "blobs"))
    digest = store.put_bytes(b"precious model weights")
    path = store.path_of(digest)
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.write(b"P")  # one byte
    assert not store.verify(digest)
    with pytest.raises(IntegrityError, match=digest):
        store.read_bytes(digest)
    dest = tmp_path / "out" / "weights.bin"
    with pytest.raises(IntegrityError):
        store.materialize(digest, dest)
    assert not dest.exists()


def test_bad_digests_are_refused(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "blobs"))
    with pytest.raises(InvalidInput, match="not a BLAKE3 digest"):
        store.exists("../../etc/passwd")
    with pytest.raises(NotFound):
        store.read_bytes("0" * 64)


@pytest.mark.parametrize("size", [0, 1000, (16 << 20) + 12345])  # empty, small, above one copy chunk
def test_put_file_hashing_stores_the_file_under_its_digest(tmp_path: Path, size: int) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(size))
    store = BlobStore(str(tmp_path / "blobs"))
    digest = store.put_file_hashing(source)
    assert digest == hash_bytes(source.read_bytes())
    assert store.verify(digest) and os.stat(store.path_of(digest)).st_mode & 0o222 == 0
    assert store.put_file_hashing(source) == digest  # already there: the copy is dropped
    assert sorted(store.iter_digests()) == [digest] and os.listdir(tmp_path / "blobs" / "tmp") == []


def test_put_file_hashing_of_a_file_changing_underneath_keeps_blob_and_digest_consistent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import slipway.blobs.copying as copying

    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom((16 << 20) + 1))
    real_copy = copying.copy_range

    def copy_then_append(path: str, fd: int, size: int, done: list[int], failed: list[BaseException]) -> None:
        real_copy(path, fd, size, done, failed)
        with open(path, "ab") as handle:  # another writer changes the file during the add
            handle.write(b"more")

    monkeypatch.setattr(copying, "copy_range", copy_then_append)
    store = BlobStore(str(tmp_path / "blobs"))
    digest = store.put_file_hashing(source)
    assert store.verify(digest)  # the blob always matches its digest
