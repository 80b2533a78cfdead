"""``slipway quickstart`` as a new user runs it: a real subprocess of the CLI in a temporary home,
then what the user would check: the champion's lineage back to both dataset versions, the
deployment's answers in the payload log, the canary's decision in the audit log, the monitoring
loop (a drifted week retrained and canaried, a zeroed feature rolled back), an intact ledger; and
a second run in the same home that reuses everything and ends in the same state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pytest

from slipway.core.settings import load_settings
from slipway.workspace import Workspace, open_workspace

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "predictive_maintenance" / "slipway.toml"


def _env(home: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env["COLUMNS"] = "200"
    if home is not None:
        env.update(SLIPWAY_HOME=str(home), SLIPWAY_CONFIG=str(CONFIG))
    return env


def _slipway(cwd: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "slipway.cli.main", *args], cwd=cwd, env=_env(home),
                            capture_output=True, text=True, timeout=900)
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    return result


def _workspace(home: Path) -> Workspace:
    return open_workspace(load_settings(home=home, user="", config_path=str(CONFIG), server_url="",
                                        store_uri="", artifacts_uri="", token=""))


def _state(ws: Workspace) -> dict[str, object]:
    deployment = ws.serving.get("maintenance")
    return {"datasets": [v.ref for v in ws.data.versions("ai4i")],
            "models": sorted(v.ref for v in ws.registry.list_versions("ai4i-failure")),
            "champion": ws.registry.resolve("ai4i-failure@champion").ref,
            "deployment": (deployment.revision, deployment.status,
                           [(v.role, v.model, v.version, v.weight) for v in deployment.variants]),
            "requests": [(r.model, r.version, r.status) for r in ws.governance.list_requests("ai4i-failure")]}


@pytest.mark.slow
@pytest.mark.timeout(2400)  # two full runs of the quickstart on a shared, busy machine
def test_quickstart_end_to_end_then_again_from_the_cache(tmp_path: Path) -> None:
    home = tmp_path / "qs-home"
    first = _slipway(tmp_path, "quickstart", "--home", str(home))
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    assert "refused" in first.stdout and "bob approved ai4i-failure/1" in first.stdout

    ws = _workspace(home)
    try:
        # The champion is the retrained version (back again after the zeroed week's rollback), with
        # lineage back to both weekly drops.
        champion = ws.registry.resolve("ai4i-failure@champion")
        assert champion.ref == "ai4i-failure/2" and champion.state == "deployed", first.stdout[-3000:]
        upstream = ws.lineage.upstream(f"model:{champion.ref}")
        assert {"ai4i@1", "ai4i@2"} <= set(upstream.ids("dataset_version"))
        assert {(d["dataset"], d["version"], d["context"]) for d in champion.datasets} == {
            ("ai4i", 2, "training"), ("ai4i", 1, "reference")}
        assert champion.metrics["f1"] >= 0.5 and champion.metrics["roc_auc"] >= 0.9

        # The retrain was started by the dataset trigger, through the scheduler.
        triggered = [r for r in ws.pipelines.list_runs(pipeline="retrain") if r.reason.get("kind") == "trigger"]
        weekly = [r for r in triggered if r.reason["name"] == "weekly-retrain"]
        assert [(r.reason["event"], r.status) for r in weekly] == [("ai4i@2", "SUCCEEDED")]
        assert weekly[0].step("train").status == "SUCCEEDED" and not weekly[0].step("train").cached

        # Four eyes: alice asked, bob approved, alice's own attempt left no decision.
        requests = ws.governance.list_requests("ai4i-failure")
        assert sorted((r.version, r.requested_by, r.status) for r in requests) == [
            (1, "alice", "approved"), (2, "alice", "approved"), (3, "alice", "approved")]
        assert all([d.approver for d in r.decisions] == ["bob"] for r in requests)

        # The deployment answered real requests, from both variants while the canary ran.
        log = ws.serving.payload_log("maintenance")
        assert log.num_rows >= 1000
        assert set(log.column("variant").to_pylist()) == {"stable", "canary"}
        assert pc.all(pc.equal(log.column("status"), 200)).as_py()
        assert set(log.column("version").to_pylist()) == {"1", "2", "3"}

        # The canary controller's decision is audited, with the numbers behind it.
        promoted = ws.audit.log(subject="deployment:maintenance", action="deployment.promote")
        assert len(promoted) == 2 and all(p.details["automated"] is True for p in promoted)
        assert promoted[-1].details["numbers"]["canary"]["requests"] >= 30
        assert len(ws.audit.log(subject="deployment:maintenance", action="deployment.canary.advance")) == 6
        _check_the_loop(ws, triggered)
        state = _state(ws)
        runs_before = len(ws.pipelines.list_runs(limit=1000))
    finally:
        ws.close()

    verify = _slipway(tmp_path, "audit", "verify", home=home)
    assert verify.returncode == 0 and "ok: " in verify.stdout, verify.stdout + verify.stderr

    second = _slipway(tmp_path, "quickstart", "--home", str(home))
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    assert "ai4i@1 already holds this drop" in second.stdout and "ai4i@2 already holds this drop" in second.stdout
    ws = _workspace(home)
    try:
        assert _state(ws) == state  # no new data version, model version, request or deployment revision
        reruns = ws.pipelines.list_runs(pipeline="retrain", limit=1000)
        assert len(reruns) == runs_before + 3  # the two manual re-runs of the first week and one of the second
        latest = reruns[0]
        assert latest.params["dataset"] == "ai4i@2"
        assert {"validate_data", "split_by_time", "train", "evaluate", "track", "register_model"} <= set(latest.cached)
        # each trigger fired once: the weekly one for ai4i@2, the alert one for the drift alert
        assert len(ws.pipelines.list_firings(limit=1000)) == 2
        assert len(ws.audit.log(action="monitor.action", limit=1000)) == 2  # each week handled once
        assert ws.audit.verify().ok
    finally:
        ws.close()


def _check_the_loop(ws: Workspace, triggered: list) -> None:
    """The two weeks of issue 16 item 8, as the monitor, its actions and the diagnoses recorded them."""
    runs = list(reversed(ws.monitoring.history("maintenance-inputs")))
    failing = [{c["name"]: c for c in r.result["checks"] if not c["passed"]} for r in runs]
    drift_run, zeroed_run = [r for r, f in zip(runs, failing, strict=True) if f]
    # The drifted week: the alert names torque and no untouched column; quality passes.
    drift_checks = {c["name"]: c for c in drift_run.result["checks"]}
    assert drift_checks["drift"]["drifted_columns"] == ["Torque [Nm]"] and drift_checks["quality"]["passed"]
    assert drift_run.result["reference"] == "ai4i@2"  # lineage: what trained the served ai4i-failure/2
    # The zeroed week: caught by quality as zeroed and constant, not as drift only.
    zeroed = {c["name"]: c for c in zeroed_run.result["checks"]}
    assert {(f["kind"], f["column"]) for f in zeroed["quality"]["findings"] if f["severity"] == "error"} == {
        ("zeroed", "Tool wear [min]"), ("constant", "Tool wear [min]")}
    assert zeroed_run.result["reference"] == "ai4i@3"  # the retrained version's training data

    # Each week's action, audited with its numbers: retrain-and-canary, then rollback (no retrain).
    pipeline, rollback = sorted(ws.audit.log(action="monitor.action", limit=100), key=lambda e: e.seq)
    assert pipeline.details["action"] == "pipeline" and pipeline.details["check"] == "drift"
    assert pipeline.details["numbers"]["drifted_columns"] == ["Torque [Nm]"]
    assert pipeline.details["numbers"]["scores"]["Torque [Nm]"] > 0.1
    (retrain,) = [r for r in triggered if r.reason["name"] == "retrain-on-drift"]
    assert pipeline.details["outcome"]["queued_runs"] == [retrain.id] and retrain.status == "SUCCEEDED"
    assert retrain.reason["event"] == pipeline.details["alert"] and retrain.params["dataset"] == "ai4i"
    trained_on = ws.registry.get_version("ai4i-failure", 3).datasets
    assert {(d["dataset"], d["version"]) for d in trained_on if d["context"] == "training"} == {("ai4i", 3)}
    assert rollback.details["action"] == "rollback" and rollback.details["check"] == "quality"
    assert {f["kind"] for f in rollback.details["numbers"]["findings"]} == {"zeroed", "constant"}
    assert rollback.details["outcome"]["from"] == ["ai4i-failure/3"]
    assert rollback.details["outcome"]["to"] == ["ai4i-failure/2"]
    deployment = ws.serving.get("maintenance")
    assert [(v.role, v.model, v.version) for v in deployment.variants] == [("stable", "ai4i-failure", 2)]
    promoted = [e.details["promoted"] for e in ws.audit.log(action="deployment.promote", limit=10)]
    assert "ai4i-failure/3" in promoted  # the retrained version went through the canary first

    # The diagnoses, stored and audited: data drift with a healthy pipeline, then a pipeline fault.
    diagnoses = sorted(ws.audit.log(action="monitor.diagnose", limit=100), key=lambda e: e.seq)
    assert [d.details["verdict"] for d in diagnoses] == ["data drift", "feature pipeline fault"]
    assert all(ws.blobs.exists(d.details["report"]) for d in diagnoses)
    alerts = {(a.check_name, a.state) for a in ws.monitoring.alerts("maintenance-inputs")}
    assert alerts == {("drift", "resolved"), ("drift", "open"), ("quality", "open")}


def test_quickstart_without_the_data_says_where_it_looked_and_changes_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ai4i2020.csv"
    result = _slipway(tmp_path, "quickstart", "--home", str(tmp_path / "qs-home"), "--data", str(missing))
    assert result.returncode == 2
    assert f"the AI4I data set is not at {missing}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "qs-home").exists()
