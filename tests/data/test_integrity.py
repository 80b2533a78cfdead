"""A blob changed on disk behind Slipway's back is detected by get, load and verify."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slipway.core.errors import IntegrityError
from slipway.workspace import Workspace
from tests.support import AI4I, corrupt_packed_blob


def _corrupt(ws: Workspace, digest: str) -> None:
    path = ws.blobs.path_of(digest)
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:
        handle.seek(100)
        handle.write(b"X")


def test_changed_blob_is_detected_and_never_served(sqlite_ws: Workspace, ai4i_7000: Path, tmp_path: Path) -> None:
    version = sqlite_ws.data.add("ai4i", ai4i_7000)
    (entry,) = sqlite_ws.data.files("ai4i@1")
    assert sqlite_ws.data.verify("ai4i@1").ok
    _corrupt(sqlite_ws, entry["digest"])

    report = sqlite_ws.data.verify(version)
    assert not report.ok and report.corrupt == [f"ai4i.csv ({entry['digest']})"]
    dest = tmp_path / "out.csv"
    with pytest.raises(IntegrityError, match=r"file ai4i\.csv of ai4i@1 .* corrupt"):
        sqlite_ws.data.get("ai4i@1", dest)
    assert not dest.exists()
    with pytest.raises(IntegrityError, match=r"ai4i\.csv"):
        sqlite_ws.data.load("ai4i@1")


def test_changed_blob_in_a_folder_version_names_the_file(sqlite_ws: Workspace, movielens_folder: Path,
                                                          tmp_path: Path) -> None:
    sqlite_ws.data.add("movielens", movielens_folder)
    movies = next(f for f in sqlite_ws.data.files("movielens@1") if f["path"] == "movies.csv")
    _corrupt(sqlite_ws, movies["digest"])
    assert sqlite_ws.data.verify("movielens@1").corrupt == [f"movies.csv ({movies['digest']})"]
    with pytest.raises(IntegrityError, match=r"movies\.csv"):
        sqlite_ws.data.get("movielens@1", tmp_path / "out")
    assert not (tmp_path / "out" / "movies.csv").exists()


def test_push_refuses_a_corrupt_blob(sqlite_ws: Workspace, ai4i_7000: Path, tmp_path: Path) -> None:
    sqlite_ws.data.add("ai4i", ai4i_7000)
    (entry,) = sqlite_ws.data.files("ai4i@1")
    _corrupt(sqlite_ws, entry["digest"])
    remote = tmp_path / "remote"
    with pytest.raises(IntegrityError, match=entry["digest"]):
        sqlite_ws.data.push("ai4i@1", str(remote))
    assert not os.path.exists(os.path.join(remote, entry["digest"][:2], entry["digest"][2:]))


def test_a_corrupt_packed_file_leaves_no_partial_folder(sqlite_ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "shards"
    folder.mkdir()
    lines = AI4I.read_text().splitlines(keepends=True)
    for i in range(50):
        (folder / f"part-{i:02d}.csv").write_text(lines[0] + "".join(lines[1 + i * 20:1 + (i + 1) * 20]))
    version = sqlite_ws.data.add("shards", folder)
    entry = next(f for f in sqlite_ws.data.files(version) if f["path"] == "part-31.csv")
    corrupt_packed_blob(sqlite_ws.blobs, entry["digest"], at=40)
    out = tmp_path / "out"
    with pytest.raises(IntegrityError, match=r"shards@1: file part-31\.csv .* nothing was written"):
        sqlite_ws.data.get(version.ref, out)
    assert not out.exists() or not any(out.iterdir())


def test_pull_repair_replaces_corrupt_blobs_from_a_remote(sqlite_ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "shards"
    folder.mkdir()
    lines = AI4I.read_text().splitlines(keepends=True)
    (folder / "ai4i.csv").write_text("".join(lines))  # ~0.5 MB: a loose blob
    for i in range(10):  # small: packed
        (folder / f"part-{i}.csv").write_text(lines[0] + "".join(lines[1 + i * 10:1 + (i + 1) * 10]))
    version = sqlite_ws.data.add("shards", folder)
    remote = str(tmp_path / "remote")
    sqlite_ws.data.push(version.ref, remote)
    files = {f["path"]: f["digest"] for f in sqlite_ws.data.files(version)}
    _corrupt(sqlite_ws, files["ai4i.csv"])
    corrupt_packed_blob(sqlite_ws.blobs, files["part-3.csv"], at=5, byte=b"!")
    assert sorted(sqlite_ws.data.verify(version).corrupt) == [f"ai4i.csv ({files['ai4i.csv']})",
                                                              f"part-3.csv ({files['part-3.csv']})"]
    assert sqlite_ws.data.pull(version.ref, remote) == 0  # a plain pull only fetches what is missing
    assert sqlite_ws.data.pull(version.ref, remote, repair=True) == 2
    assert sqlite_ws.data.verify(version).ok
    out = sqlite_ws.data.get(version.ref, tmp_path / "out")
    assert (out / "part-3.csv").read_bytes() == (folder / "part-3.csv").read_bytes()
    assert sqlite_ws.data.pull(version.ref, remote, repair=True) == 0
