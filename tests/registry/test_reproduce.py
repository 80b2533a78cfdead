"""``reproduce``: what a version was built from, and clear refusals when its code cannot be re-run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import slipway
from slipway.core.errors import Conflict
from slipway.registry.reproduce import rerun
from slipway.workspace import Workspace
from tests.models.ai4i import ai4i, fitted_pipeline


def test_reproduce_info_and_refusals(sqlite_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside_git = tmp_path / "scratch"
    outside_git.mkdir()
    monkeypatch.chdir(outside_git)  # git_state records no commit outside a repository
    X, _ = ai4i()
    with slipway.start_run("no-git") as run:
        slipway.log_params({"depth": 8})
        slipway.log_model(fitted_pipeline(), input_example=X.head(3), registered_model_name="maint")
    info = sqlite_ws.registry.reproduce_info("maint/1")
    assert info.run_id == run.id and info.git_commit is None and info.params == {"depth": "8"}
    assert info.packages_digest is not None and "numpy==" in (info.packages_lock or "")
    with pytest.raises(Conflict, match="did not record a git commit"):
        rerun(info, outside_git)
    with pytest.raises(Conflict, match="not inside a git repository"):
        rerun(dataclasses.replace(info, git_commit="0" * 40), outside_git)
    with pytest.raises(Conflict, match="interactive"):
        from slipway.registry.reproduce import entry_command

        entry_command(dataclasses.replace(info, source="interactive"), outside_git, outside_git)
