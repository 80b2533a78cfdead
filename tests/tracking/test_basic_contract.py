"""The core tracking calls, against embedded SQLite, embedded PostgreSQL and remote."""

from __future__ import annotations

import math

import pytest

from slipway.core.errors import Conflict, InvalidInput, NotFound
from slipway.workspace import Workspace


def test_run_round_trip(workspace: Workspace) -> None:
    tracking = workspace.tracking
    with tracking.start_run("fit", experiment="maint") as run:
        tracking.log_params({"n_estimators": 200, "model": "rf"})
        for step in range(50):
            tracking.log_metric("loss", 1.0 / (step + 1), step=step)
        tracking.log_metric("odd", math.nan)
        tracking.set_tags({"team": "plant-7"})
    got = tracking.get_run(run.id)
    assert got.status == "FINISHED" and got.end_ms is not None
    assert got.params == {"model": "rf", "n_estimators": "200"}
    assert got.metrics["loss"] == pytest.approx(1 / 50)
    assert math.isnan(got.metrics["odd"])
    assert got.tags == {"team": "plant-7"}
    assert len(tracking.get_metric_history(run.id, "loss")) == 50
    assert workspace.audit.verify().ok


def test_bad_input_changes_nothing(workspace: Workspace) -> None:
    tracking = workspace.tracking
    with tracking.start_run("bad") as run:
        with pytest.raises(InvalidInput):
            tracking.log_batch(run.id, metrics=[("ok", 1.0, 0, 1), ("bad", "x", 0, 1)])
        with pytest.raises(InvalidInput):
            tracking.log_params({"k" * 300: 1})
        with pytest.raises(InvalidInput):
            tracking.log_metric("m", "not a number")  # type: ignore[arg-type]
    assert tracking.get_metric_history(run.id, "ok") == []
    with pytest.raises(NotFound):
        tracking.get_run("0" * 32)
    with pytest.raises(Conflict):
        tracking.start_run("a") and tracking.start_run("b")
