"""Datasets and versions through the public API, embedded (SQLite, PostgreSQL) and remote."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from slipway.blobs.manifest import Manifest, ManifestEntry
from slipway.core.errors import InvalidInput, NotFound
from slipway.workspace import Workspace
from tests.support import AI4I


def test_two_versions_diff_by_key_and_unchanged_add(workspace: Workspace, ai4i_7000: Path, ai4i_full: Path) -> None:
    data = workspace.data
    first = data.add("ai4i", ai4i_7000, key="UDI", message="first 7000")
    assert (first.ref, first.rows, first.created, first.kind) == ("ai4i@1", 7000, True, "file")
    second = data.add("ai4i", ai4i_full)
    assert (second.ref, second.rows, second.created) == ("ai4i@2", 10_000, True)
    again = data.add("ai4i", ai4i_full)
    assert again.created is False and again.ref == "ai4i@2"
    assert [v.version for v in data.versions("ai4i")] == [1, 2]

    diff = data.diff("ai4i@1", "ai4i@2")
    assert [(c.path, c.change) for c in diff.files] == [("ai4i.csv", "changed")]
    (table,) = diff.tables
    assert (table.rows_added, table.rows_removed, table.rows_changed) == (3000, 0, 0)
    assert (table.old_rows, table.new_rows, table.key_columns) == (7000, 10_000, ["UDI"])
    assert table.shifted and all(s.metric == "psi" and s.score >= 0 for s in table.shifted)

    loaded = data.load("ai4i@1")
    assert isinstance(loaded, pa.Table) and loaded.num_rows == 7000
    assert loaded.column("UDI").to_pylist()[-1] == 7000
    assert data.load("ai4i").num_rows == 10_000  # the latest
    assert [f["path"] for f in data.files("ai4i@1")] == ["ai4i.csv"]
    profile = data.profile("ai4i@2")["ai4i.csv"].summary()
    assert profile["Type"]["top"][0] == ["L", 6000] and profile["UDI"]["max"] == 10_000
    shown = data.get_version("ai4i@latest")
    assert shown.schema["ai4i.csv"]["Torque [Nm]"] == "double" and shown.profile_digest
    events = workspace.audit.log(action="dataset_version.create")
    assert sorted(e.subject_id for e in events) == ["ai4i@1", "ai4i@2"]
    assert workspace.audit.verify().ok


def test_get_materialises_the_version(workspace: Workspace, ai4i_7000: Path, tmp_path: Path) -> None:
    workspace.data.add("ai4i", ai4i_7000)
    out = workspace.data.get("ai4i@1", tmp_path / "restored.csv")
    assert out.read_bytes() == ai4i_7000.read_bytes()


def test_dataframe_and_arrow_tables(workspace: Workspace) -> None:
    import pandas as pd

    frame = pd.read_csv(AI4I, nrows=500)
    version = workspace.data.add("frame", frame, key="UDI")
    assert (version.kind, version.rows, version.created) == ("table", 500, True)
    assert workspace.data.add("frame", pa.Table.from_pandas(frame, preserve_index=False)).created is False
    assert workspace.data.load("frame@1").to_pandas().equals(frame)


def test_log_input_records_lineage_and_show_lists_the_run(workspace: Workspace, ai4i_7000: Path) -> None:
    version = workspace.data.add("ai4i", ai4i_7000)
    with workspace.tracking.start_run("train", experiment="maint") as run:
        workspace.tracking.log_input(version)
    assert workspace.data.usage("ai4i@1").runs == [run.id]
    assert workspace.tracking.list_inputs(run.id)[0].digest == version.digest


def test_bad_input_changes_nothing(workspace: Workspace, ai4i_7000: Path, tmp_path: Path) -> None:
    data = workspace.data
    with pytest.raises(InvalidInput, match="bad name"):
        data.add("bad name", ai4i_7000)
    with pytest.raises(NotFound, match="nowhere"):
        data.add("ai4i", tmp_path / "nowhere.csv")
    with pytest.raises(InvalidInput, match="'no_such_column'"):
        data.add("ai4i", ai4i_7000, key="no_such_column")
    with pytest.raises(InvalidInput, match="ai4i@two"):
        data.get_version("ai4i@two")
    assert data.list_datasets() == []
    with pytest.raises(NotFound, match="'ai4i'"):
        data.load("ai4i@1")
    with pytest.raises(InvalidInput, match="not in the artifact store"):
        workspace.backend("data").commit_version("ai4i", "0" * 64, "file")
    # A manifest naming a file that was never uploaded (a client killed half-way) is refused.
    orphan = Manifest((ManifestEntry("x.csv", "1" * 64, 3, 0o644),))
    with pytest.raises(InvalidInput, match="not stored"):
        workspace.backend("data").commit_version("ai4i", workspace.blobs.put_bytes(orphan.to_bytes()), "file")
    assert data.list_datasets() == []


def test_folder_round_trip(workspace: Workspace, ai4i_7000: Path, tmp_path: Path) -> None:
    folder = ai4i_7000.parent
    (folder / "notes").mkdir()
    (folder / "notes" / "readme.txt").write_text("first 7000 rows of AI4I\n")
    version = workspace.data.add("bundle", folder)
    assert (version.kind, version.file_count, version.rows) == ("folder", 2, 7000)
    out = workspace.data.get("bundle@1", tmp_path / "out")
    assert (out / "notes" / "readme.txt").read_text() == "first 7000 rows of AI4I\n"
    assert (out / "ai4i.csv").read_bytes() == ai4i_7000.read_bytes()
    assert workspace.data.verify("bundle@1").ok and workspace.data.status("bundle", folder).clean


def test_show_lists_the_model_trained_from_a_version(sqlite_ws: Workspace, ai4i_7000: Path) -> None:
    from sklearn.tree import DecisionTreeClassifier

    import slipway

    version = sqlite_ws.data.add("ai4i", ai4i_7000)
    frame = sqlite_ws.data.load(version).to_pandas()
    features = frame[["Air temperature [K]", "Torque [Nm]", "Tool wear [min]"]]
    with slipway.start_run("fit", experiment="maint") as run:
        slipway.log_input(version)
        model = DecisionTreeClassifier(max_depth=3).fit(features, frame["Machine failure"])
        info = slipway.log_model(model, "model", input_example=features.head(3), registered_model_name="failure")
    usage = sqlite_ws.data.usage("ai4i@1")
    assert usage.runs == [run.id] and usage.models == [f"failure/{info.version}"]


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(sqlite_ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "readings" / "torque.csv"
    path.parent.mkdir()
    path.write_text("UDI,Torque [Nm]\n1,42.8\n")
    sqlite_ws.data.add("readings", path.parent)
    before = os.stat(path)
    path.write_text("UDI,Torque [Nm]\n1,46.3\n")  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # as cp -p, rsync -t or tar x leave it
    assert sqlite_ws.data.status("readings", path.parent).changed == ["torque.csv"]
    assert sqlite_ws.data.add("readings", path.parent).ref == "readings@2"


def test_a_folder_with_an_unreadable_table_is_versioned_without_a_row_count(sqlite_ws: Workspace,
                                                                          tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "aa-empty.csv").write_text("")  # sorts first; not a table
    (folder / "ratings.csv").write_text("userId,movieId,rating\n1,31,2.5\n1,1029,3.0\n")
    version = sqlite_ws.data.add("drop", folder)
    assert version.file_count == 2 and version.rows is None
    assert set(version.schema) == {"ratings.csv"}
    os.chmod(folder / "ratings.csv", 0o600)
    assert sqlite_ws.data.status("drop", folder).changed == ["ratings.csv"]  # as add will see it
    second = sqlite_ws.data.add("drop", folder)  # same bytes, other permissions: a new manifest
    assert [(c.path, c.change) for c in sqlite_ws.data.diff(version.ref, second.ref).files] == [("ratings.csv", "mode")]
