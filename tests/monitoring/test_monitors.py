"""Declarative monitors over AI4I weeks: alerts opened once per check, re-runs idempotent,
states acknowledged and resolved, every change audited; bad specs change nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyarrow import csv

from slipway.core.errors import Conflict, InvalidInput
from slipway.workspace import Workspace

AI4I = Path(__file__).resolve().parents[3] / "shared" / "data" / "ai4i2020" / "ai4i2020.csv"
TORQUE = "Torque [Nm]"
FEATURES = ["Type", "Air temperature [K]", "Rotational speed [rpm]", TORQUE, "Tool wear [min]"]


def _week(table: pa.Table, folder: Path, name: str, torque: pa.Array | pa.ChunkedArray | None = None) -> Path:
    if torque is not None:
        table = table.set_column(table.column_names.index(TORQUE), TORQUE, torque)
    path = folder / name / "week.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    return path


@pytest.fixture
def weeks(tmp_path: Path) -> dict[str, Path]:
    table = csv.read_csv(AI4I).select(FEATURES)
    table = table.take(pa.array(np.random.default_rng(5).permutation(table.num_rows)))
    train, a, b = table.slice(0, 6000), table.slice(6000, 2000), table.slice(8000, 2000)
    return {
        "train": _week(train, tmp_path, "train"),
        "clean": _week(a, tmp_path, "clean"),
        "drift": _week(a, tmp_path, "drift", pc.add(a.column(TORQUE), 5.0)),
        "drift2": _week(b, tmp_path, "drift2", pc.add(b.column(TORQUE), 5.0)),
        "zeroed": _week(b, tmp_path, "zeroed", pa.array(np.zeros(b.num_rows))),
        "empty": _week(train.slice(0, 0), tmp_path, "empty"),
    }


SPEC = {"name": "failures-inputs", "watch": "week", "reference": "train@1",
        "checks": [{"name": "drift", "type": "drift", "max_share": 0.0}, {"name": "quality", "type": "quality"}]}


def test_alerts_open_once_per_check_and_move_through_their_states(workspace: Workspace,
                                                                   weeks: dict[str, Path]) -> None:
    ws = workspace
    ws.data.add("train", weeks["train"])
    ws.data.add("week", weeks["clean"])
    monitor = ws.monitoring.apply(SPEC)
    assert monitor.revision == 1 and ws.monitoring.apply(SPEC).revision == 1  # same spec: no new revision
    first = ws.monitoring.run("failures-inputs")
    assert first.status == "ok" and ws.monitoring.alerts() == []

    ws.data.add("week", weeks["drift"])
    drifted = ws.monitoring.run("failures-inputs")
    assert drifted.status == "alert"
    drift = next(c for c in drifted.result["checks"] if c["name"] == "drift")
    assert drift["drifted_columns"] == [TORQUE] and not drift["passed"]
    assert next(c for c in drifted.result["checks"] if c["name"] == "quality")["passed"]
    [alert] = ws.monitoring.alerts()
    assert (alert.check_name, alert.state, alert.occurrences) == ("drift", "open", 1)
    assert TORQUE in alert.summary

    again = ws.monitoring.run("failures-inputs")  # the same window: the stored run, no second alert
    assert (again.id, again.created) == (drifted.id, False)
    assert [a.occurrences for a in ws.monitoring.alerts()] == [1]

    ws.data.add("week", weeks["drift2"])
    ws.monitoring.run("failures-inputs")
    [repeated] = ws.monitoring.alerts()
    assert (repeated.id, repeated.occurrences) == (alert.id, 2)

    acked = ws.monitoring.acknowledge(alert.id, "looking at the torque sensor")
    assert acked.state == "acknowledged"
    with pytest.raises(Conflict, match="acknowledged"):
        ws.monitoring.acknowledge(alert.id)
    assert ws.monitoring.resolve(alert.id).state == "resolved"
    assert ws.monitoring.alerts(state="open") == []

    ws.data.add("week", weeks["zeroed"])
    zeroed = ws.monitoring.run("failures-inputs")
    quality = next(c for c in zeroed.result["checks"] if c["name"] == "quality")
    assert not quality["passed"] and "zeroed Torque [Nm]" in quality["summary"]
    assert sorted(a.check_name for a in ws.monitoring.alerts(state="open")) == ["drift", "quality"]

    assert [r.id for r in ws.monitoring.history("failures-inputs")][-2:] == [drifted.id, first.id]
    actions = [e.action for e in ws.audit.log(limit=500)]
    assert actions.count("alert.open") == 3
    assert actions.count("alert.acknowledge") == 1 and actions.count("alert.resolve") == 1
    assert actions.count("monitor.run") == 4 and actions.count("monitor.apply") == 1


@pytest.mark.parametrize(("change", "message"), [
    ({"checks": [{"type": "drift", "method": {"Torque": "ks"}}]}, "unknown column 'Torque'"),
    ({"checks": [{"type": "drift", "method": "kolmogorov"}]}, "unknown drift method 'kolmogorov'"),
    ({"checks": [{"type": "drift", "threshold": {TORQUE: "high"}}]}, "must be a positive number, not 'high'"),
    ({"checks": [{"type": "drift", "max_share": "most"}]}, "max_share must be a number"),
    ({"checks": [{"type": "trend"}]}, "a check needs 'type'"),
    ({"reference": "empty@1"}, "the reference has no rows"),
])
def test_a_bad_monitor_spec_is_refused_and_changes_nothing(sqlite_ws: Workspace, weeks: dict[str, Path],
                                                           change: dict[str, object], message: str,
                                                           home: Path) -> None:
    sqlite_ws.data.add("train", weeks["train"])
    sqlite_ws.data.add("empty", weeks["empty"])
    before = len(sqlite_ws.audit.log(limit=500))
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace("[", r"\[")):
        sqlite_ws.monitoring.apply({**SPEC, **change})
    assert sqlite_ws.monitoring.monitors() == []
    assert len(sqlite_ws.audit.log(limit=500)) == before
    assert not (home / "monitoring").exists()
