"""``ws.monitoring`` on stored dataset versions, and ``slipway monitors`` from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyarrow import csv

from slipway.core.errors import InvalidInput
from slipway.workspace import Workspace

AI4I = Path(__file__).resolve().parents[3] / "shared" / "data" / "ai4i2020" / "ai4i2020.csv"
TORQUE = "Torque [Nm]"
FEATURES = ["Type", "Air temperature [K]", "Rotational speed [rpm]", TORQUE, "Tool wear [min]"]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    table = csv.read_csv(AI4I).select(FEATURES)
    shuffled = table.take(pa.array(np.random.default_rng(3).permutation(table.num_rows)))
    reference, current = shuffled.slice(0, 5000), shuffled.slice(5000)
    index = current.column_names.index(TORQUE)
    current = current.set_column(index, TORQUE, pc.multiply(current.column(TORQUE), 1.3))
    pq.write_table(reference, tmp_path / "reference.parquet")
    pq.write_table(current, tmp_path / "current.parquet")
    return tmp_path / "reference.parquet", tmp_path / "current.parquet"


def test_a_dataset_reference_is_prepared_once_and_reused(sqlite_ws: Workspace, files: tuple[Path, Path],
                                                         home: Path) -> None:
    reference, current = files
    version = sqlite_ws.data.add("sensors", reference)
    first = sqlite_ws.monitoring.drift("sensors", str(current))
    assert first.drifted_columns == [TORQUE]
    stored = list((home / "monitoring" / "references").glob("*.json"))
    assert len(stored) == 1
    again = sqlite_ws.monitoring.reference("sensors@1")
    assert isinstance(again.numeric, np.memmap)  # read back from the blob, not recomputed
    assert sqlite_ws.monitoring.drift(version, str(current)).to_json() == first.to_json()
    assert len(list((home / "monitoring" / "references").glob("*.json"))) == 1


def test_a_bad_method_changes_nothing(sqlite_ws: Workspace, files: tuple[Path, Path], home: Path) -> None:
    reference, current = files
    sqlite_ws.data.add("sensors", reference)
    with pytest.raises(InvalidInput, match="unknown drift method 'kss'"):
        sqlite_ws.monitoring.drift("sensors", str(current), method="kss")
    assert not (home / "monitoring").exists()


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_SERVER_URL": "",
           "SLIPWAY_STORE_URI": "", "SLIPWAY_ARTIFACTS_URI": "", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "slipway.cli.main", "monitors", *args], env=env, cwd=home,
                          capture_output=True, text=True, timeout=300)


def test_the_cli_prints_per_column_verdicts_and_refuses_bad_input(home: Path, files: tuple[Path, Path]) -> None:
    reference, current = files
    done = _cli(home, "drift", str(reference), str(current), "--method", f"{TORQUE}=ks", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["drifted_columns"] == [TORQUE]
    torque = next(c for c in body["columns"] if c["column"] == TORQUE)
    assert (torque["method"], torque["reason"], torque["threshold"]) == ("ks", "chosen by the spec", 0.05)
    assert torque["p_value"] < 0.05
    table = _cli(home, "drift", str(reference), str(current))
    assert "1 of 5 columns drifted" in table.stdout
    bad = _cli(home, "drift", str(reference), str(current), "--method", "Torque=ks")
    assert bad.returncode == 2
    assert "unknown column 'Torque'" in bad.stderr and "Traceback" not in bad.stderr
    quality = _cli(home, "quality", str(reference), str(current), "--json")
    assert quality.returncode == 0 and json.loads(quality.stdout)["ok"] is False  # torque x1.3 leaves its range


def test_monitors_and_alerts_from_the_command_line(home: Path, files: tuple[Path, Path], tmp_path: Path) -> None:
    reference, current = files
    assert subprocess.run([sys.executable, "-m", "slipway.cli.main", "data", "add", "train", str(reference)],
                          env={**os.environ, "SLIPWAY_HOME": str(home),
                               "SLIPWAY_SERVER_URL": "", "SLIPWAY_STORE_URI": "", "SLIPWAY_ARTIFACTS_URI": ""},
                          cwd=home, capture_output=True, text=True, timeout=300).returncode == 0
    spec = tmp_path / "monitor.yaml"
    spec.write_text(f"name: inputs\nwatch: {current}\nreference: train@1\n"
                    "checks:\n  - {name: drift, type: drift, max_share: 0.0}\n")
    applied = _cli(home, "apply", str(spec), "--json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["revision"] == 1
    run = _cli(home, "run", "inputs")
    assert run.returncode == 0, run.stderr
    assert "status: alert" in run.stdout and TORQUE in run.stdout
    rerun = _cli(home, "run", "inputs")
    assert "already run" in rerun.stdout
    listed = _alerts(home, "ls", "--json")
    [alert] = json.loads(listed.stdout)
    assert (alert["check_name"], alert["state"]) == ("drift", "open")
    assert _alerts(home, "ack", alert["id"], "--note", "on it").returncode == 0
    assert _alerts(home, "resolve", alert["id"]).returncode == 0
    twice = _alerts(home, "resolve", alert["id"])
    assert twice.returncode == 2 and "resolved" in twice.stderr and "Traceback" not in twice.stderr
    history = _cli(home, "history", "inputs", "--json")
    assert len(json.loads(history.stdout)) == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: broken\nwatch: x.parquet\nreference: train@1\nchecks:\n  - {type: drift, method: nope}\n")
    refused = _cli(home, "apply", str(bad))
    assert refused.returncode == 2 and "unknown drift method 'nope'" in refused.stderr
    assert json.loads(_cli(home, "ls", "--json").stdout)[0]["name"] == "inputs"


def _alerts(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_SERVER_URL": "",
           "SLIPWAY_STORE_URI": "", "SLIPWAY_ARTIFACTS_URI": "", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "slipway.cli.main", "alerts", *args], env=env, cwd=home,
                          capture_output=True, text=True, timeout=300)
