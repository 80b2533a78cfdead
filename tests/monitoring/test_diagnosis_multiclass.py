"""Diagnosis and monitor performance checks of a served three-class model: a multinomial logistic
regression on the UCI Adult data predicting the household relationship (``alone``, ``husband``,
``other``, as fixtures/nannyml_cbpe_multiclass builds it, coded 0, 1, 2: a model's outputs are
numeric). Realised macro ROC AUC when labels
came, multiclass CBPE's estimate otherwise, against the version's recorded evaluation and the
training data's band: a truthfully labelled week is healthy, relabelled classes are concept drift,
and a monitor's performance check alerts once the relabelled labels arrive."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from slipway.core.errors import InvalidInput
from slipway.models.logging import log_model
from slipway.serving.frame import Frame
from slipway.serving.payload import PayloadEntry, entries_to_table
from slipway.workspace import Workspace
from tests.serving.helpers import approve

ADULT = Path(__file__).resolve().parents[3] / "shared" / "data" / "adult" / "adult.csv"
FEATURES = ["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
LABEL = "relationship"
CLASSES = [0, 1, 2]  # alone, husband, other
ROTATED = {0: 1, 1: 2, 2: 0}  # what each class is called now


def _adult() -> pd.DataFrame:
    frame = pd.read_csv(ADULT, skipinitialspace=True)
    relation = frame["relationship"].str.strip()
    label = np.where(relation == "Husband", 1, np.where(relation == "Not-in-family", 0, 2))
    rows = frame[FEATURES].astype("int64").assign(**{LABEL: label})
    order = np.random.default_rng(7).permutation(len(rows))
    return rows.iloc[order].reset_index(drop=True)


def _log_week(ws: Workspace, deployment: str, model: object, week: pd.DataFrame) -> None:
    """Index the week as the inference server's payload logger does: one Parquet segment."""
    entries = []
    for start in range(0, len(week), 100):
        rows = week.iloc[start:start + 100]
        frame = Frame({c: rows[c].to_numpy() for c in FEATURES}, len(rows))
        outputs = model.predict(rows[FEATURES])  # type: ignore[attr-defined]
        entries.append(PayloadEntry(f"{deployment}-{start}", deployment, "stable", "household", "1", frame, outputs,
                                    2.0, 200))
    buffer = io.BytesIO()
    table = entries_to_table(entries)
    pq.write_table(table, buffer)
    digest = ws.blobs.put_bytes(buffer.getvalue())
    ws.backend("deploy").record_payload_segment({"deployment": deployment, "digest": digest, "rows": table.num_rows,
                                                 "requests": len(entries), "first_ms": 1, "last_ms": 2,
                                                 "columns": table.column_names})


def _post_labels(ws: Workspace, deployment: str, labels: np.ndarray) -> None:
    ws.serving.add_feedback(deployment, [{"request_id": f"{deployment}-{start}",
                                          "label": labels[start:start + 100].tolist()}
                                         for start in range(0, len(labels), 100)])


def serve_household(ws: Workspace, home: Path, tmp_path: Path, rows: pd.DataFrame,
                    label: str) -> tuple[Workspace, object, pd.DataFrame]:
    """Model ``household``/1 trained on the first 5,000 ``rows`` (logged as its training input,
    with the macro ROC AUC and F1 of 3,000 held-out rows as its evaluation), served by two
    deployments; returns the workspace, the model and 1,000 other rows."""
    train = rows.iloc[:5000]
    train.to_csv(tmp_path / "train.csv", index=False)
    version = ws.data.add("adult-household", tmp_path / "train.csv")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(train[FEATURES], train[label])
    holdout = rows.iloc[6000:9000]
    with ws.tracking.start_run("train"):
        ws.tracking.log_input(version, "training")
        ws.tracking.log_metrics({
            "roc_auc": float(roc_auc_score(holdout[label], model.predict_proba(holdout[FEATURES]),
                                           multi_class="ovr", average="macro")),
            "f1": float(f1_score(holdout[label], model.predict(holdout[FEATURES]), average="macro"))})
        log_model(ws, model, input_example=train[FEATURES].head(5), registered_model_name="household")
    approve(home, ws, "household/1")
    for name in ("healthy", "relabelled"):
        ws.serving.apply({"name": name, "variants": [{"name": "stable", "model": "household/1", "role": "stable"}]})
    return ws, model, rows.iloc[5000:6000].reset_index(drop=True)


@pytest.fixture
def served(sqlite_ws: Workspace, home: Path, tmp_path: Path) -> tuple[Workspace, object, pd.DataFrame]:
    """``serve_household`` on Adult's classes coded 0, 1, 2."""
    served = serve_household(sqlite_ws, home, tmp_path, _adult(), LABEL)
    assert list(served[1].classes_) == CLASSES  # type: ignore[attr-defined]
    return served


def test_a_multiclass_week_is_healthy_estimated_or_labelled_and_relabelled_classes_are_concept_drift(served) -> None:  # type: ignore[no-untyped-def]
    """Without labels multiclass CBPE's estimate; with the true labels the realised macro ROC AUC
    (sklearn's one-vs-rest macro AUC); with the classes rotated the same inputs are concept drift."""
    ws, model, week = served
    truth = week[LABEL].to_numpy()
    for name in ("healthy", "relabelled"):
        _log_week(ws, name, model, week)
    recorded = ws.registry.get_version("household", 1).metrics["roc_auc"]

    estimated = ws.monitoring.diagnose("healthy")  # no label yet: multiclass CBPE's estimate
    numbers = estimated.step("performance").evidence
    assert (numbers["source"], numbers["estimator"], numbers["metric"], numbers["target"]) == (
        "estimated", "cbpe", "roc_auc", LABEL), estimated.step("performance").summary
    assert numbers["evaluation"] == recorded and abs(numbers["value"] - recorded) < 0.05
    assert estimated.step("performance").status == "ok" and estimated.verdict == "healthy", estimated.evidence

    _post_labels(ws, "healthy", truth)
    healthy = ws.monitoring.diagnose("healthy")
    numbers = healthy.step("performance").evidence
    assert (numbers["source"], numbers["metric"], numbers["labelled"]) == ("realised", "roc_auc", 1000)
    expected = roc_auc_score(truth, model.predict_proba(week[FEATURES]), multi_class="ovr", average="macro")
    assert numbers["value"] == pytest.approx(expected, abs=1e-9)  # sklearn's macro one-vs-rest AUC
    assert healthy.step("performance").status == "ok", healthy.step("performance").summary
    assert healthy.verdict == "healthy" and healthy.evidence == ["every step passed"]

    _post_labels(ws, "relabelled", np.array([ROTATED[int(c)] for c in truth]))
    relabelled = ws.monitoring.diagnose("relabelled")
    step = relabelled.step("performance")
    assert step.status == "problem" and step.evidence["source"] == "realised", step.summary
    assert step.evidence["value"] < 0.5 and step.evidence["outside_band"]
    assert [s.status for s in relabelled.steps[:5]] == ["ok"] * 5, [s.summary for s in relabelled.steps[:5]]
    assert (relabelled.verdict, relabelled.action) == ("concept drift", "retrain on recent data")
    assert step.summary.startswith("fell: roc_auc")


def test_a_multiclass_performance_check_alerts_once_relabelled_labels_arrive(served) -> None:  # type: ignore[no-untyped-def]
    """A macro-F1 check against the recorded evaluation passes on CBPE's estimate, then alerts on
    the realised macro F1 once rotated labels arrive."""
    ws, model, week = served
    _log_week(ws, "relabelled", model, week)
    check = {"name": "f1", "type": "performance", "metric": "f1", "target": LABEL, "max_drop": 0.1,
             "against": "evaluation"}
    ws.monitoring.apply({"name": "perf", "watch": "deployment:relabelled", "checks": [check]})
    before = ws.monitoring.run("perf")
    [outcome] = before.result["checks"]
    assert (before.status, outcome["source"], outcome["labelled"], outcome["passed"]) == ("ok", "estimated", 0, True)
    assert outcome["baseline"] == ws.registry.get_version("household", 1).metrics["f1"]
    assert outcome["evaluated"] and "estimated by CBPE" in outcome["summary"]

    _post_labels(ws, "relabelled", np.array([ROTATED[int(c)] for c in week[LABEL]]))
    after = ws.monitoring.run("perf")
    [outcome] = after.result["checks"]
    assert after.created and after.status == "alert" and not outcome["passed"], outcome["summary"]
    assert (outcome["source"], outcome["labelled"]) == ("realised", 1000) and outcome["drop"] > 0.2
    expected = f1_score([ROTATED[int(c)] for c in week[LABEL]], model.predict(week[FEATURES]), average="macro")
    assert outcome["value"] == pytest.approx(expected, abs=1e-9)
    [alert] = ws.monitoring.alerts("perf")
    assert (alert.check_name, alert.state) == ("f1", "open")


def test_a_metric_without_a_multiclass_form_is_refused(served) -> None:  # type: ignore[no-untyped-def]
    """Log loss has no multiclass form here: the check's run is refused, naming the macro metrics."""
    ws, model, week = served
    _log_week(ws, "healthy", model, week)
    _post_labels(ws, "healthy", week[LABEL].to_numpy())
    ws.monitoring.apply({"name": "ll", "watch": "deployment:healthy",
                         "checks": [{"name": "ll", "type": "performance", "metric": "log_loss", "target": LABEL,
                                     "maximum": 2.0}]})
    with pytest.raises(InvalidInput, match="log_loss is not computed for a multiclass classifier"):
        ws.monitoring.run("ll")


def test_performance_over_a_multiclass_deployment_uses_the_models_class_probabilities(served) -> None:  # type: ignore[no-untyped-def]
    """``ws.monitoring.performance`` with the model computing the outputs: multiclass CBPE on the
    ``score.<class>`` columns it added, without naming the probability columns."""
    ws, model, week = served
    _log_week(ws, "healthy", model, week)
    _post_labels(ws, "healthy", week[LABEL].to_numpy())
    report = ws.monitoring.performance("adult-household@1", "deployment:healthy", model="household/1", target=LABEL,
                                       chunk_size=500, metrics=["roc_auc"], replicates=0)
    assert (report.problem, report.estimator, report.labelled_rows) == ("multiclass", "cbpe", 1000)
    [first, second] = report.metric("roc_auc")
    expected = roc_auc_score(week[LABEL][:500], model.predict_proba(week[FEATURES][:500]), multi_class="ovr")
    assert first.realised == pytest.approx(expected, abs=1e-9) and abs(first.estimated - expected) < 0.05
    assert second.realised is not None and second.estimated is not None and second.upper_threshold is not None
