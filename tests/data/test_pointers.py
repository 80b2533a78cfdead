"""Pointer files link Git commits to data; ``data checkout`` restores a commit's data (issue 14, item 6)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from slipway.core.errors import Conflict, IntegrityError, InvalidInput
from slipway.data.pointers import read_pointer
from slipway.workspace import Workspace


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
                          cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    (path / ".gitignore").write_text("sensors.csv\nimages/\n")  # the data itself stays out of Git
    monkeypatch.chdir(path)
    return path


def test_checkout_restores_each_commits_data(workspace: Workspace, repo: Path) -> None:
    data = repo / "sensors.csv"
    data.write_bytes(b"t,v\n1,2\n")
    v1 = workspace.data.add("sensors", data, pointer=True)
    pointer = read_pointer(repo / "sensors.csv.slipway")
    assert (pointer.dataset, pointer.version, pointer.digest, pointer.data) == ("sensors", 1, v1.digest, data)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "data v1")
    first = git(repo, "rev-parse", "HEAD").strip()

    data.write_bytes(b"t,v\n1,2\n2,3\n")
    workspace.data.add("sensors", data, pointer=True)
    git(repo, "commit", "-qam", "data v2")

    git(repo, "checkout", "-q", first)
    assert data.read_bytes() == b"t,v\n1,2\n2,3\n"  # Git moved the pointer, not the data
    (done,) = workspace.data.checkout()
    assert (done.ref, done.written) == ("sensors@1", ["sensors.csv"])
    assert data.read_bytes() == b"t,v\n1,2\n"
    assert workspace.data.checkout()[0].changed is False  # idempotent: nothing rewritten

    git(repo, "checkout", "-q", "-")
    workspace.data.checkout(["sensors.csv"])
    assert data.read_bytes() == b"t,v\n1,2\n2,3\n"


def test_checkout_never_drops_unversioned_work(sqlite_ws: Workspace, repo: Path) -> None:
    images = repo / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"a")
    (images / "b.png").write_bytes(b"b")
    sqlite_ws.data.add("images", images, pointer=True)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "images v1")
    (images / "c.png").write_bytes(b"c")
    sqlite_ws.data.add("images", images, pointer=True)  # c.png is versioned now
    git(repo, "commit", "-qam", "images v2")
    git(repo, "checkout", "-q", "HEAD~1")

    (images / "a.png").write_bytes(b"edited, never added")
    with pytest.raises(Conflict, match=r"a\.png has changes that are not versioned"):
        sqlite_ws.data.checkout()
    assert (images / "c.png").exists() and (images / "a.png").read_bytes() == b"edited, never added"
    (done,) = sqlite_ws.data.checkout(force=True)
    assert (done.written, done.removed) == (["a.png"], ["c.png"])
    assert sorted(p.name for p in images.iterdir()) == ["a.png", "b.png"] and (images / "a.png").read_bytes() == b"a"


def test_bad_pointer_files_are_refused(sqlite_ws: Workspace, repo: Path) -> None:
    data = repo / "sensors.csv"
    data.write_bytes(b"t\n1\n")
    sqlite_ws.data.add("sensors", data, pointer=True)
    pointer = repo / "sensors.csv.slipway"
    body = yaml.safe_load(pointer.read_text())
    pointer.write_text(yaml.safe_dump({**body, "digest": "0" * 64}))
    with pytest.raises(IntegrityError, match="sensors@1"):
        sqlite_ws.data.checkout()
    pointer.write_text(yaml.safe_dump({**body, "version": "two"}))
    with pytest.raises(InvalidInput, match="version must be a positive integer"):
        sqlite_ws.data.checkout()
    pointer.unlink()
    (repo / "...slipway").write_text(yaml.safe_dump(body))  # would name '..', the parent folder
    with pytest.raises(InvalidInput, match="data path"):
        sqlite_ws.data.checkout()
