"""``data get`` never loses unversioned work and never lets an edit reach the store (issue 14, item 5)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slipway.core.errors import Conflict
from slipway.workspace import Workspace


def two_versions(ws: Workspace, tmp_path: Path) -> tuple[Path, bytes, bytes]:
    work = tmp_path / "work"
    work.mkdir()
    path = work / "sensors.csv"
    path.write_bytes(b"t,v\n1,2\n")
    ws.data.add("sensors", path)
    path.write_bytes(b"t,v\n1,2\n2,3\n")
    ws.data.add("sensors", path)
    return path, b"t,v\n1,2\n", b"t,v\n1,2\n2,3\n"


def test_get_refuses_to_overwrite_an_unversioned_change(workspace: Workspace, tmp_path: Path) -> None:
    path, v1, v2 = two_versions(workspace, tmp_path)
    # The working file holds v2's bytes (stored): getting v1 over it loses nothing.
    workspace.data.get("sensors@1", path)
    assert path.read_bytes() == v1
    path.write_bytes(b"t,v\nmy unsaved edit\n")
    with pytest.raises(Conflict, match=r"sensors\.csv has changes that are not versioned"):
        workspace.data.get("sensors@2", path)
    assert path.read_bytes() == b"t,v\nmy unsaved edit\n"
    # Into a folder, the same rule per file.
    with pytest.raises(Conflict):
        workspace.data.get("sensors@2", path.parent)
    workspace.data.get("sensors@2", path, force=True)
    assert path.read_bytes() == v2


def test_folder_get_refuses_to_overwrite_an_unversioned_file(sqlite_ws: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("a\n")
    (folder / "b.txt").write_text("b\n")
    sqlite_ws.data.add("tree", folder)
    (folder / "b.txt").write_text("edited\n")
    (folder / "new.txt").write_text("not in the version: left alone\n")
    with pytest.raises(Conflict, match=r"b\.txt"):
        sqlite_ws.data.get("tree@1", folder)
    assert (folder / "b.txt").read_text() == "edited\n"
    sqlite_ws.data.get("tree@1", folder, force=True)
    assert (folder / "b.txt").read_text() == "b\n" and (folder / "new.txt").exists()


def test_editing_a_fetched_file_cannot_corrupt_the_store(sqlite_ws: Workspace, tmp_path: Path) -> None:
    two_versions(sqlite_ws, tmp_path)
    out = sqlite_ws.data.get("sensors@1", tmp_path / "copy.csv")
    assert os.stat(out).st_mode & 0o200  # a writable copy, not a link to the read-only blob
    with open(out, "r+b") as handle:  # an in-place edit (as root, a 0444 link would not stop it)
        handle.write(b"X")
    assert sqlite_ws.data.verify("sensors@1").ok
    assert sqlite_ws.data.load("sensors@1").num_rows == 1
    # The fast link is still there when asked for, read-only.
    linked = sqlite_ws.data.get("sensors@1", tmp_path / "linked.csv", link=True)
    assert os.stat(linked).st_nlink >= 2 and not os.stat(linked).st_mode & 0o222
