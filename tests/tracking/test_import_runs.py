"""``import_runs``: runs from another system written whole, over every transport (the endpoint
behind ``slipway import mlflow``)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from slipway.core.errors import Conflict, InvalidInput, NotFound
from slipway.tracking.records import ImportedRun, RunArtifact
from slipway.workspace import Workspace

RUN_ID = "0123456789abcdef0123456789abcdef"


def _run(ws: Workspace, run_id: str | None = RUN_ID, **changes: object) -> ImportedRun:
    digest = ws.blobs.put_bytes(b"notes")
    item = ImportedRun(
        experiment="imported", name="base", status="FAILED", start_ms=1_700_000_000_000, end_ms=1_700_000_009_000,
        user="alice", origin={"other.run_id": run_id or "abc"}, params={"C": "1.0"}, tags={"team": "risk"},
        metrics=[("loss", 0.5, 0, 1_700_000_000_001), ("loss", 0.25, 1, 1_700_000_000_002), ("odd", "NaN", 0, 1_700_000_000_003),
                 ("odd", "Infinity", 1, 1_700_000_000_004)],
        artifacts=[RunArtifact("notes/readme.txt", digest, "file", 5)], source="train.py", git_commit="a" * 40,
        experiment_description="from elsewhere", id=run_id)
    return dataclasses.replace(item, **changes)  # type: ignore[arg-type]


def test_an_imported_run_keeps_its_times_points_and_id_and_is_written_once(workspace: Workspace) -> None:
    backend = workspace.backend("tracking")
    [done] = backend.import_runs([_run(workspace)])
    assert done.run_id == RUN_ID and done.created
    run = workspace.tracking.get_run(RUN_ID)
    assert (run.status, run.start_ms, run.end_ms, run.user, run.name) == ("FAILED", 1_700_000_000_000, 1_700_000_009_000,
                                                                           "alice", "base")
    assert run.params == {"C": "1.0"} and run.tags["team"] == "risk" and run.tags["other.run_id"] == RUN_ID
    assert run.metrics["loss"] == 0.25 and run.metrics["odd"] == math.inf
    history = workspace.tracking.get_metric_history(RUN_ID, "odd")
    assert math.isnan(history[0].value) and history[1].value == math.inf and history[1].ts == 1_700_000_000_004
    assert [a.path for a in workspace.tracking.list_artifacts(RUN_ID)] == ["notes/readme.txt"]
    assert workspace.tracking.get_experiment("imported").description == "from elsewhere"
    event = workspace.audit.log(subject=f"run:{RUN_ID}", action="run.import")[0]
    assert event.details["metrics"] == 4 and event.details["origin"] == {"other.run_id": RUN_ID}

    [again] = backend.import_runs([_run(workspace)])
    assert (again.run_id, again.created) == (RUN_ID, False)
    assert len(workspace.tracking.get_metric_history(RUN_ID, "loss")) == 2
    assert backend.imported_runs("other.run_id") == {RUN_ID: RUN_ID}
    [fresh] = backend.import_runs([_run(workspace, None, origin={"other.run_id": "xyz"})])  # no id: a new one
    assert fresh.created and fresh.run_id != RUN_ID


@pytest.mark.parametrize(("changes", "error"), [
    ({"status": "RUNNING"}, InvalidInput),
    ({"metrics": [("bad key!", 1.0, 0, 1)]}, InvalidInput),
    ({"id": "not-an-id"}, InvalidInput),
    ({"parent_id": "f" * 32}, NotFound),
    ({"artifacts": [RunArtifact("../escape", "b" * 64, "file", 1)]}, InvalidInput),
])
def test_a_bad_run_rejects_its_whole_batch(workspace: Workspace, changes: dict, error: type) -> None:
    good = _run(workspace, "1" * 32, origin={"other.run_id": "good"})
    with pytest.raises(error):
        workspace.backend("tracking").import_runs([good, _run(workspace, **changes)])
    assert list(workspace.tracking.iter_runs()) == []
    assert workspace.audit.log(action="run.import") == []


def test_an_id_taken_by_a_run_from_elsewhere_is_a_conflict(workspace: Workspace) -> None:
    backend = workspace.backend("tracking")
    backend.import_runs([_run(workspace)])
    with pytest.raises(Conflict):
        backend.import_runs([_run(workspace, origin={"other.run_id": "another"})])


def test_metric_history_pages_read_only_their_points(workspace: Workspace) -> None:
    """``get_metric_history`` with offset and limit (what MLflow's paged ``get-history`` reads)."""
    points = [("loss", float(step), step, 1_700_000_000_000 + step) for step in range(10)]
    workspace.backend("tracking").import_runs([_run(workspace, metrics=points)])
    backend = workspace.backend("tracking")
    assert [m.step for m in backend.get_metric_history(RUN_ID, "loss", 0, 4)] == [0, 1, 2, 3]
    assert [m.step for m in backend.get_metric_history(RUN_ID, "loss", 8, 4)] == [8, 9]
    assert len(backend.get_metric_history(RUN_ID, "loss")) == 10
    with pytest.raises(InvalidInput):
        backend.get_metric_history(RUN_ID, "loss", -1, 4)
