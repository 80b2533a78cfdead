"""Pipeline runs through each transport: embedded SQLite, embedded PostgreSQL, remote server."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.core.errors import InvalidInput, NotFound, PermissionDenied
from slipway.pipelines.records import StepUpdate
from slipway.workspace import Workspace, open_workspace
from tests.pipelines import flows
from tests.support import make_settings


def test_run_cache_resume_and_records(workspace: Workspace, tmp_path: Path) -> None:
    pipelines = workspace.pipelines
    first = pipelines.run(flows.fan_out, {"n": 3})
    assert first.status == "SUCCEEDED", first.error
    assert first.executed == ["square[0]", "square[1]", "square[2]", "total"]
    assert pipelines.output(first.id, "total") == 5
    again = pipelines.run(flows.fan_out, {"n": 3})
    assert again.executed == [] and len(again.cached) == 4

    flag, counter = tmp_path / "flag", tmp_path / "counter"
    flag.write_text("on")
    failed = pipelines.run(flows.resumable, {"flag_file": str(flag), "counter": str(counter)})
    assert failed.status == "FAILED" and "ValueError" in (failed.step("fail_if").error or "")
    flag.unlink()
    resumed = pipelines.resume(failed.id)
    assert resumed.status == "SUCCEEDED" and resumed.step("counted").cached

    listed = pipelines.list_runs(limit=10)
    assert [r.id for r in listed][:2] == [resumed.id, failed.id]
    assert [r.id for r in pipelines.list_runs(pipeline="fan_out")] == [again.id, first.id]
    assert workspace.audit.verify().ok


def test_backend_refuses_bad_input(workspace: Workspace) -> None:
    backend = workspace.backend("pipelines")
    run = workspace.pipelines.run(flows.fan_out, {"n": 1})
    with pytest.raises(NotFound):
        backend.get_run("0" * 32)
    with pytest.raises(InvalidInput, match="status"):
        backend.list_runs(status="DONE")
    with pytest.raises(InvalidInput, match="step status"):
        backend.update_steps(run.id, [StepUpdate("total", "EXPLODED")])
    with pytest.raises(InvalidInput, match="digest"):
        backend.update_steps(run.id, [StepUpdate("total", "SUCCEEDED", outputs={"output": {"digest": "../../etc"}})])
    assert workspace.pipelines.get_run(run.id).step("total").outputs == run.step("total").outputs


def test_viewers_cannot_run_pipelines(home: Path) -> None:
    viewer = open_workspace(make_settings(home, user="watcher", local_roles="viewer"))
    try:
        with pytest.raises(PermissionDenied, match=r"pipelines\.run"):
            viewer.pipelines.run(flows.fan_out, {"n": 1})
        assert viewer.pipelines.list_runs() == []
    finally:
        viewer.close()
