"""Diagnosis of a served AI4I model from its payload log: a drifted torque is data drift with the
feature pipeline healthy, a zeroed column is a feature pipeline fault, failing requests are a
serving fault; the diagnosis is stored and audited; bad windows and unknown lineage are refused."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from slipway.core.errors import InvalidInput, NotFound
from slipway.models.logging import log_model
from slipway.monitoring import diagnosis_steps
from slipway.monitoring.diagnosis import select_window
from slipway.serving.frame import Frame
from slipway.serving.payload import PayloadEntry, entries_to_table
from slipway.serving.server import restart_recorder
from slipway.serving.supervisor import Supervisor, bind_socket
from slipway.workspace import Workspace, open_workspace
from tests.serving.helpers import FEATURES, ai4i, approve, train_pipeline
from tests.support import in_process_cli, make_settings

TORQUE, WEAR, LABEL = "Torque [Nm]", "Tool wear [min]", "Machine failure"


def _log_week(ws: Workspace, deployment: str, model: object, week: pd.DataFrame, status: int = 200) -> None:
    """Index the week as the inference server's payload logger does: one Parquet segment."""
    entries = []
    for start in range(0, len(week), 100):
        rows = week.iloc[start:start + 100]
        frame = Frame({c: rows[c].to_numpy(dtype=object if c == "Type" else None) for c in FEATURES}, len(rows))
        outputs = model.predict(rows[FEATURES]) if status == 200 else None  # type: ignore[attr-defined]
        entries.append(PayloadEntry(f"{deployment}-{start}", deployment, "stable", "failures", "1", frame, outputs, 2.0, status))
    buffer = io.BytesIO()
    table = entries_to_table(entries)
    pq.write_table(table, buffer)
    digest = ws.blobs.put_bytes(buffer.getvalue())
    ws.backend("deploy").record_payload_segment({"deployment": deployment, "digest": digest, "rows": table.num_rows,
                                                 "requests": len(entries), "first_ms": 1, "last_ms": 2,
                                                 "columns": table.column_names})


@pytest.fixture
def served(sqlite_ws: Workspace, home: Path, tmp_path: Path) -> tuple[Workspace, object, pd.DataFrame]:
    """Model ``failures``/1 trained on 5,000 AI4I rows (logged as its training input), served by
    three deployments; returns the workspace, the model and 1,000 other rows."""
    ws = sqlite_ws
    features, label = ai4i(10000)
    order = np.random.default_rng(5).permutation(len(features))[:8000]  # weeks without the temperatures' walk
    features, label = features.iloc[order].reset_index(drop=True), label.iloc[order].reset_index(drop=True)
    train = features.iloc[:5000].assign(**{"Machine failure": label.iloc[:5000]})
    train.to_csv(tmp_path / "train.csv", index=False)
    version = ws.data.add("ai4i", tmp_path / "train.csv")
    model = train_pipeline(features.iloc[:5000], label.iloc[:5000])
    holdout, truth = features.iloc[6000:8000], label.iloc[6000:8000]
    with ws.tracking.start_run("train"):
        ws.tracking.log_input(version, "training")
        ws.tracking.log_metrics({"roc_auc": float(roc_auc_score(truth, model.predict_proba(holdout)[:, 1])),
                                 "f1": float(f1_score(truth, model.predict(holdout)))})
        log_model(ws, model, input_example=features.head(5), registered_model_name="failures")
    approve(home, ws, "failures/1")
    for name in ("drifted", "zeroed", "failing", "relabelled", "healthy"):
        ws.serving.apply({"name": name, "variants": [{"name": "stable", "model": "failures/1", "role": "stable"}]})
    week = features.iloc[5000:6000].reset_index(drop=True)
    return ws, model, week.assign(**{LABEL: label.iloc[5000:6000].to_numpy()})


def _post_labels(ws: Workspace, deployment: str, labels: np.ndarray) -> None:
    """The week's labels, one list per logged request of 100 rows (as ``_log_week`` names them)."""
    ws.serving.add_feedback(deployment, [{"request_id": f"{deployment}-{start}", "label": labels[start:start + 100].tolist()}
                                         for start in range(0, len(labels), 100)])


def test_the_diagnosis_tells_drift_from_a_broken_pipeline_and_a_failing_server(served) -> None:  # type: ignore[no-untyped-def]
    ws, model, week = served
    _log_week(ws, "drifted", model, week.assign(**{TORQUE: week[TORQUE] + 6.0}))
    drift = ws.monitoring.diagnose("drifted", window="1000")
    assert (drift.served, drift.reference, drift.window["rows"]) == ("failures/1", "ai4i@1", 1000)
    assert [s.name for s in drift.steps] == ["serving health", "input schema", "data quality", "feature drift",
                                             "prediction drift", "performance"]
    assert [s.status for s in drift.steps[:3]] == ["ok", "ok", "ok"], [s.summary for s in drift.steps[:3]]
    assert drift.step("feature drift").evidence["drifted"] == [TORQUE]
    ranked = drift.step("feature drift").evidence["ranked"]
    assert ranked[0]["column"] == TORQUE and ranked[0]["weighted"] > 0 and abs(sum(r["importance"] for r in ranked) - 1) < 1e-3
    performance = drift.step("performance")  # no label posted: CBPE's estimate
    assert performance.evidence["source"] == "estimated" and performance.evidence["estimator"] == "cbpe"
    assert performance.evidence["metric"] == "roc_auc" and performance.evidence["target"] == LABEL
    assert (drift.verdict, drift.action) == ("data drift", "retrain on recent data")
    assert "the feature pipeline is healthy" in " ".join(drift.evidence)

    _log_week(ws, "zeroed", model, week.assign(**{WEAR: 0.0}))
    zeroed = ws.monitoring.diagnose("zeroed")
    assert zeroed.step("data quality").status == "problem"
    assert {(f["kind"], f["column"]) for f in zeroed.step("data quality").evidence["findings"]} >= {("zeroed", WEAR)}
    assert zeroed.verdict == "feature pipeline fault" and zeroed.command == "slipway diagnose zeroed --rollback"

    _log_week(ws, "failing", model, week, status=503)
    failing = ws.monitoring.diagnose("failing")
    assert failing.step("serving health").evidence["error_rate"] == 1.0 and failing.verdict == "serving fault"

    audited = sorted(ws.audit.log(action="monitor.diagnose", limit=10), key=lambda e: e.seq)
    assert [(e.subject_id, e.details["verdict"]) for e in audited] == [
        ("drifted", "data drift"), ("zeroed", "feature pipeline fault"), ("failing", "serving fault")]
    assert ws.blobs.read_bytes(audited[0].details["report"]).startswith(b'{"deployment":"drifted"')


def test_relabelled_inputs_are_concept_drift_and_a_labelled_healthy_week_is_healthy(served) -> None:  # type: ignore[no-untyped-def]
    """The same inputs, once with their true labels and once with the labels flipped (the world
    changed what the inputs mean): realised performance tells the two apart."""
    ws, model, week = served
    truth = week[LABEL].to_numpy()
    for name, labels in (("healthy", truth), ("relabelled", 1 - truth)):
        _log_week(ws, name, model, week)
        _post_labels(ws, name, labels)
    healthy = ws.monitoring.diagnose("healthy")
    numbers = healthy.step("performance").evidence
    assert (numbers["source"], numbers["metric"], numbers["labelled"]) == ("realised", "roc_auc", 1000)
    assert numbers["evaluation"] == ws.registry.get_version("failures", 1).metrics["roc_auc"]
    assert healthy.step("performance").status == "ok", healthy.step("performance").summary
    assert abs(numbers["value"] - numbers["evaluation"]) < 0.05
    assert healthy.verdict == "healthy" and healthy.evidence == ["every step passed"]

    relabelled = ws.monitoring.diagnose("relabelled")
    step = relabelled.step("performance")
    assert step.status == "problem" and step.evidence["source"] == "realised", step.summary
    assert step.evidence["value"] < 0.2 and step.evidence["outside_band"]
    assert [s.status for s in relabelled.steps[:5]] == ["ok"] * 5  # the inputs and predictions did not move
    assert (relabelled.verdict, relabelled.action) == ("concept drift", "retrain on recent data")
    assert relabelled.evidence == [f"performance: {step.summary}"] and step.summary.startswith("fell: roc_auc")
    audited = sorted(ws.audit.log(action="monitor.diagnose", limit=10), key=lambda e: e.seq)
    assert [(e.subject_id, e.details["verdict"]) for e in audited] == [("healthy", "healthy"),
                                                                       ("relabelled", "concept drift")]


def test_the_performance_step_is_pluggable(served, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    ws, model, week = served
    _log_week(ws, "drifted", model, week)
    monkeypatch.setattr(diagnosis_steps, "PERFORMANCE",
                        lambda ctx: diagnosis_steps.Step("performance", "problem", "F1 fell from 0.71 to 0.40"))
    found = ws.monitoring.diagnose("drifted")
    assert found.step("feature drift").status == "ok" and found.verdict == "concept drift"
    assert found.evidence == ["performance: F1 fell from 0.71 to 0.40"]


def test_bad_windows_and_missing_lineage_are_refused(served, home: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    ws = served[0]
    log = entries_to_table([PayloadEntry("r", "d", "stable", "m", "1", Frame({"x": np.ones(3)}, 3), None, 1.0, 200)])
    assert select_window(log, "2", 0)[0].num_rows == 2
    assert select_window(log, "5m", int(log.column("ts_ms")[0].as_py()) + 10 * 60_000)[0].num_rows == 0
    for bad in ("0", "ten", "5w", "-3"):
        with pytest.raises(InvalidInput, match="window must be a number of rows"):
            select_window(log, bad, 0)
    with pytest.raises(InvalidInput, match="logged no request"):
        ws.monitoring.diagnose("drifted")
    with pytest.raises(NotFound):
        ws.monitoring.diagnose("nowhere")
    before = len(ws.audit.log(action="monitor.diagnose"))
    monkeypatch.setenv("SLIPWAY_HOME", str(home))
    monkeypatch.chdir(home)
    code, _out, err = in_process_cli(monkeypatch, capsys)("diagnose", "drifted", "--window", "lots")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "window must be" in err
    assert len(ws.audit.log(action="monitor.diagnose")) == before


def test_a_performance_check_alerts_once_labels_show_the_model_fell(served) -> None:  # type: ignore[no-untyped-def]
    """A monitor on the deployment: before labels the check runs on CBPE's estimate and passes;
    once flipped labels arrive the realised ROC AUC falls past max_drop against the version's
    recorded evaluation and an alert opens; re-running the same window changes nothing."""
    ws, model, week = served
    _log_week(ws, "relabelled", model, week)
    check = {"name": "auc", "type": "performance", "metric": "roc_auc", "target": LABEL, "max_drop": 0.1,
             "against": "evaluation"}
    ws.monitoring.apply({"name": "perf", "watch": "deployment:relabelled", "checks": [check]})
    before = ws.monitoring.run("perf")
    [outcome] = before.result["checks"]
    assert (before.status, outcome["source"], outcome["labelled"], outcome["passed"]) == ("ok", "estimated", 0, True)
    assert outcome["baseline"] == ws.registry.get_version("failures", 1).metrics["roc_auc"]
    assert outcome["performance"][0]["source"] == "estimated"

    _post_labels(ws, "relabelled", 1 - week[LABEL].to_numpy())
    after = ws.monitoring.run("perf")
    [outcome] = after.result["checks"]
    assert after.created and after.status == "alert" and not outcome["passed"]
    assert (outcome["source"], outcome["labelled"]) == ("realised", 1000) and outcome["drop"] > 0.5
    assert "worse by" in outcome["summary"] and "than the evaluation" in outcome["summary"]
    [alert] = ws.monitoring.alerts("perf")
    assert (alert.check_name, alert.state) == ("auc", "open")
    again = ws.monitoring.run("perf")
    assert not again.created and again.id == after.id and len(ws.monitoring.alerts("perf")) == 1


@pytest.mark.parametrize(("check", "message"), [
    ({"metric": "auroc"}, "unknown performance metric 'auroc'"),
    ({"metric": "mae", "minimum": 0.3}, "give it a 'maximum', not a 'minimum'"),
    ({"metric": "roc_auc", "maximum": 0.9}, "give it a 'minimum', not a 'maximum'"),
    ({"metric": "roc_auc", "max_drop": "a lot"}, "max_drop of performance check 'p' must be a number"),
    ({"metric": "roc_auc", "max_drop": -0.1}, "must be >= 0"),
    ({"metric": "log_loss", "source": "estimated"}, "log_loss cannot be estimated"),
    ({"metric": "roc_auc", "source": "guessed"}, "source of performance check 'p' must be one of"),
    ({"metric": "roc_auc", "target": None}, "needs 'target'"),
    ({"metric": "roc_auc", "target": "Failure type"}, "the reference has no label column 'Failure type'"),
])
def test_bad_performance_checks_are_refused_and_store_nothing(served, check, message) -> None:  # type: ignore[no-untyped-def]
    ws = served[0]
    spec = {"name": "perf", "watch": "deployment:healthy",
            "checks": [{"name": "p", "type": "performance", "target": LABEL, **check}]}
    if spec["checks"][0]["target"] is None:
        del spec["checks"][0]["target"]
    with pytest.raises(InvalidInput, match=message):
        ws.monitoring.apply(spec)
    assert ws.monitoring.monitors() == [] and ws.audit.log(action="monitor.apply") == []


def test_worker_restarts_the_supervisor_records_make_a_serving_fault(served, home: Path) -> None:  # type: ignore[no-untyped-def]
    """Real worker processes that die: the supervisor replaces each and records the restart in the
    ledger; the diagnosis counts the restarts since the window's first request."""
    ws, model, week = served
    _log_week(ws, "healthy", model, week)
    recorder = restart_recorder(make_settings(home), "healthy", open_workspace)
    supervisor = Supervisor(sys.exit, {}, bind_socket("127.0.0.1", 0), workers=1, on_restart=recorder)
    supervisor.processes = [supervisor._spawn()]  # a worker that exits at once (sys.exit refuses the socket)
    for _ in range(3):
        supervisor.processes[0].join(120)
        assert supervisor.replace_dead() == 1
    supervisor.shutdown()
    events = ws.audit.log(action="deployment.worker_restart")
    assert supervisor.restarts == 3 and len(events) == 3
    assert {e.subject_id for e in events} == {"healthy"} and all(e.details["exitcode"] == 1 for e in events)
    found = ws.monitoring.diagnose("healthy")
    health = found.step("serving health")
    assert (health.status, health.evidence["worker_restarts"]) == ("problem", 3)
    assert "3 worker restarts > 2" in health.summary and found.verdict == "serving fault"


def test_a_deployment_monitor_with_an_explicit_reference_checks_the_served_inputs(served) -> None:  # type: ignore[no-untyped-def]
    """docs/monitoring.md's monitor: ``watch: deployment:…`` with ``reference: ai4i@1``, a dataset
    that also holds the label. The checks look at the served version's inputs (the payload log
    holds no label), as with the lineage reference; every run used to fail on the label column."""
    ws, model, week = served
    _log_week(ws, "drifted", model, week.assign(**{TORQUE: week[TORQUE] + 6.0}))
    ws.monitoring.apply({"name": "explicit", "watch": "deployment:drifted", "reference": "ai4i@1",
                         "checks": [{"name": "drift", "type": "drift", "max_share": 0.0},
                                    {"name": "quality", "type": "quality"}]})
    run = ws.monitoring.run("explicit")
    drift, quality = run.result["checks"]
    assert run.status == "alert" and drift["drifted_columns"] == [TORQUE] and sorted(drift["columns"]) == sorted(FEATURES)
    assert quality["passed"], quality["summary"]
