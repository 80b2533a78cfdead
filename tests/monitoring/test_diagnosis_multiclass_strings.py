"""Diagnosis and monitor performance checks of a served three-class model whose classes are
strings (``alone``, ``husband``, ``other``: the UCI Adult household relationship, as
test_diagnosis_multiclass.py codes 0, 1, 2): the model predicts the strings, the inference server
logs them, the feedback endpoint takes string labels, and multiclass CBPE works on the
``score.<class>`` columns named by the strings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from slipway.workspace import Workspace
from tests.monitoring.test_diagnosis_multiclass import (
    FEATURES,
    _adult,
    _log_week,
    _post_labels,
    serve_household,
)

LABEL = "household"
NAMES = {0: "alone", 1: "husband", 2: "other"}
ROTATED = {"alone": "husband", "husband": "other", "other": "alone"}  # what each class is called now


@pytest.fixture
def served(sqlite_ws: Workspace, home: Path, tmp_path: Path) -> tuple[Workspace, object, pd.DataFrame]:
    """``serve_household`` on Adult with string labels: the model predicts the strings."""
    rows = _adult()
    rows = rows.drop(columns="relationship").assign(**{LABEL: rows["relationship"].map(NAMES)})
    served = serve_household(sqlite_ws, home, tmp_path, rows, LABEL)
    assert list(served[1].classes_) == ["alone", "husband", "other"]  # type: ignore[attr-defined]
    return served


def test_string_classes_estimated_realised_and_relabelled_as_concept_drift(served) -> None:  # type: ignore[no-untyped-def]
    ws, model, week = served
    truth = week[LABEL].to_numpy()
    for name in ("healthy", "relabelled"):
        _log_week(ws, name, model, week)
    recorded = ws.registry.get_version("household", 1).metrics["roc_auc"]

    estimated = ws.monitoring.diagnose("healthy")  # no label yet: multiclass CBPE's estimate
    numbers = estimated.step("performance").evidence
    assert (numbers["source"], numbers["estimator"], numbers["metric"], numbers["target"]) == (
        "estimated", "cbpe", "roc_auc", LABEL), estimated.step("performance").summary
    assert abs(numbers["value"] - recorded) < 0.05
    assert estimated.verdict == "healthy", estimated.evidence

    _post_labels(ws, "healthy", truth)
    healthy = ws.monitoring.diagnose("healthy")
    numbers = healthy.step("performance").evidence
    assert (numbers["source"], numbers["metric"], numbers["labelled"]) == ("realised", "roc_auc", 1000)
    expected = roc_auc_score(truth, model.predict_proba(week[FEATURES]), multi_class="ovr", average="macro")
    assert numbers["value"] == pytest.approx(expected, abs=1e-9)
    assert healthy.verdict == "healthy", healthy.evidence

    _post_labels(ws, "relabelled", np.array([ROTATED[c] for c in truth]))
    relabelled = ws.monitoring.diagnose("relabelled")
    step = relabelled.step("performance")
    assert step.status == "problem" and step.evidence["source"] == "realised", step.summary
    assert step.evidence["value"] < 0.5 and step.evidence["outside_band"]
    assert (relabelled.verdict, relabelled.action) == ("concept drift", "retrain on recent data")


def test_string_classes_performance_check_alerts_once_relabelled_labels_arrive(served) -> None:  # type: ignore[no-untyped-def]
    ws, model, week = served
    _log_week(ws, "relabelled", model, week)
    check = {"name": "f1", "type": "performance", "metric": "f1", "target": LABEL, "max_drop": 0.1,
             "against": "evaluation"}
    ws.monitoring.apply({"name": "perf", "watch": "deployment:relabelled", "checks": [check]})
    before = ws.monitoring.run("perf")
    [outcome] = before.result["checks"]
    assert (before.status, outcome["source"], outcome["labelled"], outcome["passed"]) == ("ok", "estimated", 0, True)

    rotated = [ROTATED[c] for c in week[LABEL]]
    _post_labels(ws, "relabelled", np.array(rotated))
    after = ws.monitoring.run("perf")
    [outcome] = after.result["checks"]
    assert after.status == "alert" and not outcome["passed"], outcome["summary"]
    assert (outcome["source"], outcome["labelled"]) == ("realised", 1000) and outcome["drop"] > 0.2
    expected = f1_score(rotated, model.predict(week[FEATURES]), average="macro")
    assert outcome["value"] == pytest.approx(expected, abs=1e-9)
    [alert] = ws.monitoring.alerts("perf")
    assert (alert.check_name, alert.state) == ("f1", "open")


def test_string_classes_performance_report(served) -> None:  # type: ignore[no-untyped-def]
    ws, model, week = served
    _log_week(ws, "healthy", model, week)
    _post_labels(ws, "healthy", week[LABEL].to_numpy())
    report = ws.monitoring.performance("adult-household@1", "deployment:healthy", model="household/1", target=LABEL,
                                       chunk_size=500, metrics=["roc_auc", "accuracy"], replicates=0)
    assert (report.problem, report.estimator, report.labelled_rows) == ("multiclass", "cbpe", 1000)
    [first, _second] = report.metric("roc_auc")
    expected = roc_auc_score(week[LABEL][:500], model.predict_proba(week[FEATURES][:500]), multi_class="ovr")
    assert first.realised == pytest.approx(expected, abs=1e-9) and abs(first.estimated - expected) < 0.05
    [first, _second] = report.metric("accuracy")
    assert first.realised == pytest.approx(float(np.mean(model.predict(week[FEATURES][:500]) == week[LABEL][:500])))
