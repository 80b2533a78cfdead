"""Manifest paths from an uploader can never write outside the destination (issue 13, item 1).

The reviewers' payloads are refused where a manifest is accepted (``commit_version`` over a real
server, after the blobs went in through ``PUT /api/v1/blobs``) and, for a manifest planted in the
store behind the API's back, at every place that materialises files: ``data get`` (embedded and
remote), artifact download, model load and ``slipway build``. Nothing is written outside.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import update

from slipway.blobs.manifest import MAGIC
from slipway.blobs.store import BlobStore
from slipway.core.errors import InvalidInput
from slipway.core.hashing import hash_bytes
from slipway.core.paths import check_relative_path, contained_path, normalise_relative_path
from slipway.store.database import Database
from slipway.store.schema.data import dataset_versions
from slipway.workspace import Workspace, open_workspace, set_default
from tests.support import make_settings, platform_server

# What the reviewers sent: each would land outside the destination (or be a different file than
# it looks) if written as given.
PAYLOADS = ["../x", "../../outside/x", "/tmp/slipway-escape-x", "a/../../x", "a\x00b", "x\n", "a\\..\\..\\x",
            "C:/x", "a//b", "./a", "a/.", ""]


def manifest(path: str, digest: str, size: int) -> bytes:
    """A manifest written by hand, as an attacker would (no Slipway code builds a bad one)."""
    body = {"format": MAGIC, "entries": [{"path": path, "digest": digest, "size": size, "mode": 0o644}]}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


@pytest.mark.parametrize("bad", PAYLOADS)
def test_unsafe_relative_paths_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_relative_path(bad, "manifest path")
    assert "manifest path" in caught.value.message


@pytest.mark.parametrize("good", ["a", "data/train.csv", "...", "a b/c:d.txt", "é/ü.parquet"])
def test_safe_relative_paths_are_kept(good: str) -> None:
    assert check_relative_path(good) == good


def test_normalising_merges_spellings_but_never_climbs() -> None:
    assert normalise_relative_path("a/./b") == normalise_relative_path("a//b") == normalise_relative_path("a/b/") == "a/b"
    for bad in ("a/../b", "/a", "a/\n"):
        with pytest.raises(InvalidInput):
            normalise_relative_path(bad)


def test_containment_is_not_a_string_prefix(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (tmp_path / "model-sibling").mkdir()
    assert str(tmp_path / "model-sibling" / "x").startswith(str(model))  # what the old check compared
    with pytest.raises(InvalidInput):
        contained_path(model, "../model-sibling/x")
    # A symlinked sub-folder of the destination cannot carry a write outside it.
    model.mkdir()
    (model / "sub").symlink_to(tmp_path / "model-sibling")
    with pytest.raises(InvalidInput, match="outside"):
        contained_path(model, "sub/x")
    assert contained_path(model, "inner/x") == model.resolve() / "inner" / "x"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    home = tmp_path / "server"
    with platform_server(make_settings(home)) as (url, token):
        yield url, token, home


@pytest.mark.parametrize("bad", ["../x", "/tmp/slipway-escape-x", "a\x00b", "x\n", "a\\..\\x", "a//b"])
def test_commit_version_over_http_refuses_unsafe_manifest(server: tuple[str, str, Path], bad: str) -> None:
    url, token, _ = server
    headers = {"Authorization": f"Bearer {token}"}
    data = b"planted bytes\n"
    body = manifest(bad, hash_bytes(data), len(data))
    with httpx.Client(base_url=url, headers=headers) as client:
        for blob in (data, body):  # both uploads are accepted: a blob is only bytes
            assert client.put(f"/api/v1/blobs/{hash_bytes(blob)}", content=blob).status_code < 300
        answer = client.post("/api/v1/data/commit_version",
                             json={"name": "evil", "digest": hash_bytes(body), "kind": "file"})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["type"] == "InvalidInput"
        assert repr(bad)[1:-1] in answer.json()["error"]["message"]
        # Nothing was recorded.
        assert all(d["name"] != "evil" for d in client.post("/api/v1/data/list_datasets", json={}).json())


def plant_version(db_uri: str, blobs: BlobStore, ref_digest: str, bad_path: str) -> str:
    """Point an existing version at a manifest naming ``bad_path`` (a database edit behind the API)."""
    data = b"planted bytes\n"
    blobs.put_bytes(data)
    bad = blobs.put_bytes(manifest(bad_path, hash_bytes(data), len(data)))
    db = Database(db_uri)
    try:
        with db.write() as conn:
            conn.execute(update(dataset_versions).where(dataset_versions.c.digest == ref_digest).values(digest=bad))
    finally:
        db.dispose()
    return bad


@pytest.mark.parametrize("bad", ["../escaped.txt", "ESCAPE", "sub/../../escaped.txt"])
def test_data_get_refuses_a_planted_manifest_embedded(sqlite_ws: Workspace, tmp_path: Path, bad: str) -> None:
    source = tmp_path / "in.txt"
    source.write_text("good\n")
    version = sqlite_ws.data.add("files", source)
    bad = str(tmp_path / "escaped.txt") if bad == "ESCAPE" else bad  # an absolute path
    plant_version(sqlite_ws.settings.resolved_store_uri, sqlite_ws.blobs, version.digest, bad)
    dest = tmp_path / "work" / "dest"
    dest.mkdir(parents=True)
    with pytest.raises(InvalidInput, match="manifest path"):
        sqlite_ws.data.get("files@1", dest)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "work" / "escaped.txt").exists()
    assert list(dest.iterdir()) == []
    with pytest.raises(InvalidInput):  # every other reader refuses it too
        sqlite_ws.data.files("files@1")


def test_data_get_refuses_a_planted_manifest_remote(server: tuple[str, str, Path], tmp_path: Path) -> None:
    url, token, home = server
    ws = open_workspace(make_settings(tmp_path / "client", server_url=url, token=token))
    set_default(ws)
    try:
        source = tmp_path / "in.txt"
        source.write_text("good\n")
        version = ws.data.add("files", source)
        settings = make_settings(home)
        plant_version(settings.resolved_store_uri, BlobStore(settings.resolved_artifacts_uri), version.digest,
                      "../escaped.txt")
        dest = tmp_path / "dest"
        dest.mkdir()
        with pytest.raises(InvalidInput, match="manifest path"):
            ws.data.get("files@1", dest)
        assert not (tmp_path / "escaped.txt").exists() and list(dest.iterdir()) == []
    finally:
        ws.close()
        set_default(None)


def plant_artifact_and_bundle(ws: Workspace, tmp_path: Path) -> tuple[str, str]:
    """A run with a folder artifact and a registered model, both then pointed at bad manifests."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import slipway
    from slipway.store.schema.registry import model_versions
    from slipway.store.schema.tracking import run_artifacts

    folder = tmp_path / "art"
    folder.mkdir()
    (folder / "a.txt").write_text("a\n")
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    with ws.tracking.start_run("r", experiment="e") as run:
        ws.tracking.log_artifact(folder, "folder")
        slipway.log_model(LogisticRegression().fit(X, [0, 0, 1, 1]), registered_model_name="m")
    blobs = ws.blobs
    meta = blobs.put_bytes(b"{}")
    evil = blobs.put_bytes(b"evil\n")
    bad_bundle = blobs.put_bytes(orjson.dumps({"format": MAGIC, "entries": [
        {"path": "../model-sibling/x", "digest": evil, "size": 5, "mode": 0o644},
        {"path": "slipway-model.json", "digest": meta, "size": 2, "mode": 0o644}]}, option=orjson.OPT_SORT_KEYS))
    bad_dir = blobs.put_bytes(manifest("../escaped.txt", evil, 5))
    db = Database(ws.settings.resolved_store_uri)
    try:
        with db.write() as conn:
            conn.execute(update(run_artifacts).where(run_artifacts.c.path == "folder").values(digest=bad_dir))
            conn.execute(update(model_versions).values(bundle_digest=bad_bundle))
    finally:
        db.dispose()
    return run.id, bad_bundle


def test_artifact_download_model_load_and_build_refuse_planted_manifests(sqlite_ws: Workspace, tmp_path: Path) -> None:
    from slipway.serving.packaging import build_context

    run_id, bundle = plant_artifact_and_bundle(sqlite_ws, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(InvalidInput, match="manifest path"):
        sqlite_ws.tracking.download_artifact(run_id, "folder", work / "out")
    with pytest.raises(InvalidInput, match=bundle):
        sqlite_ws.registry.load("m/1")
    with pytest.raises(InvalidInput, match="model-sibling"):
        build_context(sqlite_ws, "m/1", work / "ctx")
    assert sorted(os.listdir(work)) == []  # no artifact, no build context, no partial folder
    assert not (tmp_path / "escaped.txt").exists() and not (work / "model-sibling").exists()


def test_recording_a_folder_artifact_refuses_an_unsafe_manifest(sqlite_ws: Workspace) -> None:
    evil = sqlite_ws.blobs.put_bytes(b"evil\n")
    bad = sqlite_ws.blobs.put_bytes(manifest("/etc/escaped", evil, 5))
    with sqlite_ws.tracking.start_run("r", experiment="e") as run:
        with pytest.raises(InvalidInput, match="manifest path"):
            sqlite_ws.tracking._backend.record_artifact(run.id, "folder", bad, "dir", 5)
        assert sqlite_ws.tracking.list_artifacts(run.id) == []


def test_folder_get_refuses_a_symlink_in_the_destination(sqlite_ws: Workspace, tmp_path: Path) -> None:
    """The reviewers' symlink payload: a linked sub-folder planted in the destination."""
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("a\n")
    (folder / "b.txt").write_text("b\n")
    sqlite_ws.data.add("tree", folder)
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "sub").symlink_to(outside)
    with pytest.raises(InvalidInput, match="outside"):
        sqlite_ws.data.get("tree@1", dest)
    assert list(outside.iterdir()) == [] and sorted(p.name for p in dest.iterdir()) == ["sub"]


def test_gc_keeps_the_files_of_a_refused_manifest(sqlite_ws: Workspace, tmp_path: Path) -> None:
    """A version whose manifest is refused on read still holds its blobs: gc neither stops nor deletes them."""
    from slipway.blobs.gc import collect_garbage

    source = tmp_path / "in.txt"
    source.write_text("good\n")
    version = sqlite_ws.data.add("files", source)
    bad = plant_version(sqlite_ws.settings.resolved_store_uri, sqlite_ws.blobs, version.digest, "../escaped.txt")
    collect_garbage(sqlite_ws.blobs, [bad], grace_seconds=0)
    assert sqlite_ws.blobs.exists(bad) and sqlite_ws.blobs.exists(hash_bytes(b"planted bytes\n"))
