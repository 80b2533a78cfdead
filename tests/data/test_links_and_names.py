"""Symlinks in added folders, trailing newlines in names, and artifact path spellings (issue 13, item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.core.errors import InvalidInput
from slipway.core.hashing import check_digest, hash_bytes
from slipway.core.names import check_key, check_name
from slipway.workspace import Workspace


def test_a_link_out_of_an_added_folder_is_refused(sqlite_ws: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not part of the dataset\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("a\n")
    (folder / "leak.txt").symlink_to(secret)
    with pytest.raises(InvalidInput, match=r"leak\.txt.*outside the folder"):
        sqlite_ws.data.add("tree", folder)
    assert sqlite_ws.data.list_datasets() == []
    # A linked folder pointing out is refused as well, and so is a link to nothing.
    (folder / "leak.txt").unlink()
    (folder / "elsewhere").symlink_to(tmp_path)
    with pytest.raises(InvalidInput, match="elsewhere"):
        sqlite_ws.data.add("tree", folder)
    (folder / "elsewhere").unlink()
    (folder / "dangling").symlink_to(tmp_path / "nothing-here")
    with pytest.raises(InvalidInput, match="does not exist"):
        sqlite_ws.data.add("tree", folder)
    # A link to a file inside the folder is followed: versioned (and restored) as that file.
    (folder / "dangling").unlink()
    (folder / "alias.txt").symlink_to(folder / "a.txt")
    version = sqlite_ws.data.add("tree", folder)
    files = {f["path"]: f["digest"] for f in sqlite_ws.data.files(version)}
    assert files == {"a.txt": hash_bytes(b"a\n"), "alias.txt": hash_bytes(b"a\n")}
    out = sqlite_ws.data.get(version.ref, tmp_path / "out")
    assert not (out / "alias.txt").is_symlink() and (out / "alias.txt").read_text() == "a\n"


def test_a_link_out_of_a_logged_artifact_folder_is_refused(sqlite_ws: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret\n")
    folder = tmp_path / "art"
    folder.mkdir()
    (folder / "leak").symlink_to(secret)
    with sqlite_ws.tracking.start_run("r", experiment="e") as run:
        with pytest.raises(InvalidInput, match="outside the folder"):
            sqlite_ws.tracking.log_artifact(folder, "folder")
        assert sqlite_ws.tracking.list_artifacts(run.id) == []


@pytest.mark.parametrize(("check", "good"), [(check_name, "ai4i"), (check_key, "loss"), (check_digest, "a" * 64)])
def test_a_trailing_newline_is_not_part_of_a_valid_name(check: object, good: str) -> None:
    assert check(good) == good  # type: ignore[operator]
    with pytest.raises(InvalidInput):
        check(good + "\n")  # type: ignore[operator]


def test_trailing_newline_names_are_refused_by_the_services(workspace: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    with pytest.raises(InvalidInput):
        workspace.data.add("ai4i\n", source)
    with workspace.tracking.start_run("r", experiment="e"), pytest.raises(InvalidInput):
        workspace.tracking.log_metric("loss\n", 1.0)


def test_artifact_path_spellings_name_one_artifact(workspace: Workspace, tmp_path: Path) -> None:
    with workspace.tracking.start_run("r", experiment="e") as run:
        first = workspace.tracking.log_text("one", "a/./b.txt")
        second = workspace.tracking.log_text("two", "a//b.txt")
    assert first.path == second.path == "a/b.txt"
    assert [a.path for a in workspace.tracking.list_artifacts(run.id)] == ["a/b.txt"]
    out = workspace.tracking.download_artifact(run.id, "a/./b.txt", tmp_path / "b.txt")
    assert out.read_text() == "two"
    with workspace.tracking.start_run("r2", experiment="e"), pytest.raises(InvalidInput):
        workspace.tracking.log_text("x", "a/../../b.txt")
