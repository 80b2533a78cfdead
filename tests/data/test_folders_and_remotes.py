"""MovieLens as a folder dataset; status against a working folder; push and pull between stores."""

from __future__ import annotations

import os
from pathlib import Path

from slipway.blobs.store import BlobStore
from slipway.workspace import Workspace, open_workspace
from tests.support import make_settings


def test_movielens_folder_versions_store_only_changed_files(sqlite_ws: Workspace, movielens_folder: Path,
                                                             tmp_path: Path) -> None:
    data = sqlite_ws.data
    first = data.add("movielens", movielens_folder, key=["userId", "movieId"])
    assert (first.kind, first.file_count, first.rows) == ("folder", 2, 20_000 + 9742)
    assert set(first.schema) == {"movies.csv", "ratings.csv"}
    ratings = data.load("movielens@1", path="ratings.csv")
    assert ratings.num_rows == 20_000 and ratings.column_names == ["userId", "movieId", "rating", "timestamp"]

    before = set(BlobStore(sqlite_ws.blobs.uri).iter_digests())
    with open(movielens_folder / "ratings.csv", "a") as handle:
        handle.write("1,2,4.5,964982703\n")
    (movielens_folder / "notes.txt").write_text("curated subset\n")
    report = data.status("movielens", movielens_folder)
    assert (report.added, report.removed, report.changed) == (["notes.txt"], [], ["ratings.csv"])

    second = data.add("movielens", movielens_folder)
    new_blobs = set(BlobStore(sqlite_ws.blobs.uri).iter_digests()) - before
    # ratings.csv, notes.txt, the new profile and the new manifest; movies.csv is not stored again.
    assert len(new_blobs) == 4
    assert data.status("movielens", movielens_folder).clean
    diff = data.diff(first.ref, second.ref)
    assert [(c.path, c.change) for c in diff.files] == [("notes.txt", "added"), ("ratings.csv", "changed")]
    (table,) = diff.tables
    assert (table.table, table.rows_added, table.rows_removed) == ("ratings.csv", 1, 0)

    out = data.get("movielens@2", tmp_path / "restored", link=True)
    assert sorted(os.listdir(out)) == ["movies.csv", "notes.txt", "ratings.csv"]
    assert (out / "ratings.csv").read_bytes() == (movielens_folder / "ratings.csv").read_bytes()
    # Asked for links: hard-linked from the store (same file system), read-only so the store is
    # not edited through it.
    movies = next(f for f in data.files("movielens@2") if f["path"] == "movies.csv")
    assert os.stat(out / "movies.csv").st_ino == os.stat(sqlite_ws.blobs.path_of(movies["digest"])).st_ino
    assert os.stat(out / "movies.csv").st_mode & 0o222 == 0
    copied = data.get("movielens@2", tmp_path / "copied")  # the default: a copy, writable
    assert os.stat(copied / "movies.csv").st_ino != os.stat(sqlite_ws.blobs.path_of(movies["digest"])).st_ino
    assert os.stat(copied / "movies.csv").st_mode & 0o200


def test_push_and_pull_move_only_missing_blobs(sqlite_ws: Workspace, movielens_folder: Path, tmp_path: Path) -> None:
    data = sqlite_ws.data
    data.add("movielens", movielens_folder)
    remote = str(tmp_path / "remote-store")
    needed = data.remote_digests("movielens@1")
    assert data.push("movielens@1", remote) == len(needed) == 4  # two files, the profile, the manifest
    assert data.push("movielens@1", remote) == 0

    # An interrupted push: the remote lost two blobs; pushing again moves exactly those.
    remote_store = BlobStore(remote)
    for digest in needed[:2]:
        remote_store.delete(digest)
    assert data.push("movielens@1", remote) == 2

    # A second workspace sharing the metadata but with an empty artifact store pulls everything.
    settings = make_settings(sqlite_ws.settings.home, artifacts_uri=str(tmp_path / "empty-store"))
    other = open_workspace(settings)
    assert other.data.pull("movielens@1", remote) == 4
    assert other.data.pull("movielens@1", remote) == 0
    assert other.data.verify("movielens@1").ok
    assert other.data.load("movielens@1", path="movies.csv").num_rows == 9742


def test_fast_ingest_matches_the_generic_manifest(sqlite_ws: Workspace, movielens_folder: Path) -> None:
    from slipway.blobs.manifest import scan_folder
    from slipway.data.ingest import ingest_folder, manifest_bytes

    (movielens_folder / "nested" / "deeper").mkdir(parents=True)
    (movielens_folder / "nested" / "deeper" / "readme.txt").write_text("ratings subset\n")
    generic = scan_folder(movielens_folder)
    fast = ingest_folder(sqlite_ws.blobs, movielens_folder, None, store=True)
    assert fast == generic and manifest_bytes(list(fast.entries)) == generic.to_bytes()
    assert sqlite_ws.blobs.missing(e.digest for e in fast.entries) == []
    assert all(sqlite_ws.blobs.verify(e.digest) for e in fast.entries)


def test_adding_a_project_folder_skips_slipways_own_store(sqlite_ws: Workspace) -> None:
    project = Path(sqlite_ws.settings.home).resolve().parent  # the home lives inside the project
    (project / "data").mkdir()
    (project / "data" / "readings.txt").write_text("torque 42.1\n")
    version = sqlite_ws.data.add("project", project)
    paths = [f["path"] for f in sqlite_ws.data.files(version)]
    assert paths == ["data/readings.txt"]
    assert sqlite_ws.data.status("project", project).clean
