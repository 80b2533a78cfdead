"""``data push`` / ``data pull`` to a real S3 API (moto's server on loopback, through s3fs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.blobs.store import BlobStore
from slipway.core.errors import IntegrityError
from slipway.workspace import Workspace, open_workspace
from tests.support import MOVIELENS, make_settings, s3_server


@pytest.fixture
def s3_bucket() -> Iterator[str]:
    """An empty bucket on a fresh S3 server; the AWS settings a user would export point at it."""
    with s3_server() as (uri, _env):
        yield uri


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "movielens"
    (folder / "parts").mkdir(parents=True)
    (folder / "movies.csv").write_bytes((MOVIELENS / "movies.csv").read_bytes())  # loose (~0.5 MB)
    lines = (MOVIELENS / "ratings.csv").read_text().splitlines(keepends=True)
    for i in range(30):  # small files: packed locally, plain objects in S3
        (folder / "parts" / f"ratings-{i:02d}.csv").write_text(lines[0] + "".join(lines[1 + i * 50:1 + (i + 1) * 50]))
    return folder


def test_push_and_pull_through_s3(sqlite_ws: Workspace, tmp_path: Path, s3_bucket: str) -> None:
    version = sqlite_ws.data.add("movielens", _folder(tmp_path))
    needed = sqlite_ws.data.remote_digests(version.ref)
    assert sqlite_ws.data.push(version.ref, s3_bucket) == len(needed) == 31 + 2  # files, profile, manifest
    remote = BlobStore(s3_bucket)
    assert sorted(remote.loose_digests()) == sorted(needed)
    assert sqlite_ws.data.push(version.ref, s3_bucket) == 0

    for digest in needed[:3]:  # an interrupted push: pushing again moves exactly what is missing
        remote.delete(digest)
    assert sqlite_ws.data.push(version.ref, s3_bucket) == 3

    empty = tmp_path / "fresh-store"
    other = open_workspace(make_settings(sqlite_ws.settings.home, artifacts_uri=str(empty)))
    assert other.data.pull(version.ref, s3_bucket) == len(needed)
    assert other.data.verify(version.ref).ok
    assert other.data.load(version.ref, path="movies.csv").num_rows == 9742
    out = other.data.get(version.ref, tmp_path / "restored")
    assert (out / "parts" / "ratings-29.csv").read_bytes() == (tmp_path / "movielens" / "parts" / "ratings-29.csv").read_bytes()


def test_a_corrupt_object_in_s3_is_refused_on_pull(sqlite_ws: Workspace, tmp_path: Path, s3_bucket: str) -> None:
    version = sqlite_ws.data.add("movielens", _folder(tmp_path))
    sqlite_ws.data.push(version.ref, s3_bucket)
    entry = next(f for f in sqlite_ws.data.files(version.ref) if f["path"] == "parts/ratings-07.csv")
    remote = BlobStore(s3_bucket)
    with remote.fs.open(remote.path_of(entry["digest"]), "wb") as handle:
        handle.write(b"userId,movieId,rating,timestamp\n1,1,0.5,1\n")

    empty = tmp_path / "fresh-store"
    other = open_workspace(make_settings(sqlite_ws.settings.home, artifacts_uri=str(empty)))
    with pytest.raises(IntegrityError, match=entry["digest"]):
        other.data.pull(version.ref, s3_bucket)
    assert not other.blobs.exists(entry["digest"])
    assert not list(empty.glob("packs/*.idx"))  # the pull's pack of small blobs was never published


def test_push_without_credentials_is_one_clear_error(sqlite_ws: Workspace, tmp_path: Path, s3_bucket: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14 item 18: botocore's 60-line traceback becomes one BackendUnavailable line."""
    from slipway.core.errors import BackendUnavailable

    version = sqlite_ws.data.add("movielens", _folder(tmp_path))
    import s3fs

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    s3fs.S3FileSystem.clear_instance_cache()
    with pytest.raises(BackendUnavailable, match=r"cannot use the remote store s3://.*NoCredentialsError"):
        sqlite_ws.data.push(version.ref, s3_bucket)
