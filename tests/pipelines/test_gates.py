"""The evaluation gate's blessing semantics (TFX's), check by check."""

from __future__ import annotations

import math

import pytest

from slipway.core.errors import InvalidInput
from slipway.pipelines.gates import MetricThreshold, evaluate_gate


def test_no_thresholds_no_blessing() -> None:
    verdict = evaluate_gate({"auc": 0.99}, [])
    assert not verdict.blessed and "no thresholds" in verdict.reason


def test_value_thresholds_are_inclusive_bounds() -> None:
    spec = {"auc": {"lower": 0.8, "upper": 0.95}}
    assert evaluate_gate({"auc": 0.8}, spec).blessed
    assert evaluate_gate({"auc": 0.95}, spec).blessed
    low = evaluate_gate({"auc": 0.79}, spec)
    assert not low.blessed
    assert [(c.kind, c.passed) for c in low.checks] == [("lower", False), ("upper", True)]
    assert "auc = 0.79 is < lower bound 0.8" in low.reason
    assert not evaluate_gate({"auc": 0.96}, spec).blessed


def test_a_missing_or_nan_metric_fails() -> None:
    verdict = evaluate_gate({"accuracy": 0.9}, {"auc": {"lower": 0.5}})
    assert not verdict.blessed and "auc is missing from the candidate's metrics" in verdict.reason
    assert not evaluate_gate({"auc": math.nan}, {"auc": {"lower": 0.5}}).blessed


def test_change_thresholds_are_skipped_without_a_champion() -> None:
    verdict = evaluate_gate({"auc": 0.7}, {"auc": {"lower": 0.5, "change_absolute": 0.0}}, None)
    assert verdict.blessed
    change = next(c for c in verdict.checks if c.kind == "change_absolute")
    assert change.skipped and "no other champion" in change.message
    # Only change thresholds and no champion: the first model is blessed.
    assert evaluate_gate({"auc": 0.7}, {"auc": {"change_relative": 0.01}}).blessed


def test_change_thresholds_are_direction_aware() -> None:
    champion = {"auc": 0.80, "logloss": 0.40}
    higher = {"auc": {"change_absolute": 0.01}}
    assert evaluate_gate({"auc": 0.81}, higher, champion, "m/1").blessed
    worse = evaluate_gate({"auc": 0.805}, higher, champion, "m/1")
    assert not worse.blessed and worse.champion == "m/1"
    assert worse.failed[0].observed == pytest.approx(0.005)
    tolerant = {"auc": {"change_absolute": -0.02}}  # at most 0.02 worse
    assert evaluate_gate({"auc": 0.79}, tolerant, champion).blessed
    assert not evaluate_gate({"auc": 0.77}, tolerant, champion).blessed

    lower = {"logloss": {"change_relative": 0.05, "higher_is_better": False}}
    assert evaluate_gate({"logloss": 0.37}, lower, champion).blessed  # 7.5 % better
    regressed = evaluate_gate({"logloss": 0.39}, lower, champion)  # 2.5 % better, 5 % needed
    assert not regressed.blessed
    assert regressed.failed[0].observed == pytest.approx(0.025)
    assert "logloss change_relative" in regressed.reason


def test_champion_lacking_the_metric_fails_the_change_threshold() -> None:
    verdict = evaluate_gate({"auc": 0.9}, [MetricThreshold("auc", change_absolute=0.0)], {"f1": 0.5}, "m/2")
    assert not verdict.blessed and "missing from the champion's metrics" in verdict.reason


def test_every_number_is_recorded() -> None:
    verdict = evaluate_gate({"auc": 0.9, "f1": 0.6}, {"auc": {"lower": 0.85, "change_absolute": 0.0}},
                            {"auc": 0.88}, "m/3")
    details = verdict.to_details()["gate"]
    assert details["blessed"] is True and details["champion"] == "m/3"
    assert details["candidate_metrics"] == {"auc": 0.9, "f1": 0.6}
    change = next(c for c in details["checks"] if c["kind"] == "change_absolute")
    assert change["candidate"] == 0.9 and change["champion"] == 0.88 and change["observed"] == pytest.approx(0.02)


def test_malformed_thresholds_are_refused() -> None:
    with pytest.raises(InvalidInput, match="sets no bound"):
        evaluate_gate({"auc": 1.0}, {"auc": {}})
    with pytest.raises(InvalidInput, match="allowed keys"):
        evaluate_gate({"auc": 1.0}, {"auc": {"minimum": 0.5}})
    with pytest.raises(InvalidInput, match="not a number"):
        evaluate_gate({"auc": 1.0}, {"auc": {"lower": "high"}})
