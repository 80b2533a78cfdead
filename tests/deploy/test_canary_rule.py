"""The canary decision rule on counters, without a server: each branch and its numbers."""

from __future__ import annotations

import numpy as np
import pytest

from slipway.deploy.canary import decide, ratio_p_value, two_proportion_p_value, wilson_bounds
from slipway.deploy.spec import DEFAULT_CANARY, DEFAULT_SLO
from slipway.deploy.stats import VariantCounters

POLICY = {**DEFAULT_CANARY, "steps": [5, 25, 100], "min_requests": 100, "min_seconds": 10}


def counters(requests: int, errors: int = 0, latency_ms: float = 5.0, prediction: float = 0.0) -> VariantCounters:
    c = VariantCounters()
    for i in range(requests):
        c.observe(latency_ms, i < errors, np.array([prediction]))
    return c


def test_wilson_and_z_test_values() -> None:
    assert wilson_bounds(0, 100, 0.95)[1] == pytest.approx(0.02635, abs=1e-4)
    lower, upper = wilson_bounds(20, 100, 0.95)
    assert lower == pytest.approx(0.1425, abs=1e-3) and upper == pytest.approx(0.2733, abs=1e-3)
    assert two_proportion_p_value(20, 100, 1, 100) < 0.001
    assert two_proportion_p_value(1, 100, 1, 100) == pytest.approx(0.5)


def test_failing_canary_is_rolled_back_after_a_few_dozen_requests() -> None:
    decision = decide(counters(1000), counters(40, errors=8), DEFAULT_SLO, POLICY, 0, 1.0)
    assert decision.action == "rollback" and "Wilson lower bound" in decision.reason
    assert decision.numbers["canary"]["errors"] == 8 and decision.numbers["canary_error_rate_bounds"][0] > 0.01
    assert decide(counters(1000), counters(10, errors=2), DEFAULT_SLO, POLICY, 0, 1.0).action == "wait"


def test_healthy_canary_waits_then_advances_then_promotes() -> None:
    stable, canary = counters(1000), counters(150)
    assert decide(stable, counters(50), DEFAULT_SLO, POLICY, 0, 60).action == "wait"
    assert decide(stable, canary, DEFAULT_SLO, POLICY, 0, 5).action == "wait"
    advance = decide(stable, canary, DEFAULT_SLO, POLICY, 0, 11)
    assert advance.action == "advance" and "stepping to 25%" in advance.reason
    assert decide(stable, canary, DEFAULT_SLO, POLICY, 2, 11).action == "promote"


def test_latency_and_drift_breaches_roll_back() -> None:
    slo = {**DEFAULT_SLO, "max_latency_ms": 50, "max_prediction_drift": 0.1}
    slow = decide(counters(1000), counters(150, latency_ms=80), slo, POLICY, 0, 11)
    assert slow.action == "rollback" and "above the SLO 50.0 ms" in slow.reason
    relative = decide(counters(1000, latency_ms=5), counters(150, latency_ms=20), DEFAULT_SLO, POLICY, 0, 11)
    assert relative.action == "rollback" and "above the stable's" in relative.reason
    drift = decide(counters(1000, prediction=0.1), counters(150, prediction=0.5), slo, POLICY, 0, 11)
    assert drift.action == "rollback" and drift.numbers["prediction_drift"] == pytest.approx(0.4)


def test_latency_buckets_merge_exactly_and_give_quantiles() -> None:
    a, b = counters(90, latency_ms=2.0), counters(10, latency_ms=200.0)
    merged = a.merge(b)
    assert merged.requests == 100 and sum(merged.latency_buckets) == 100
    assert 2.0 <= merged.latency_quantile_ms(0.5) <= 2.4
    assert 200.0 <= merged.latency_quantile_ms(0.99) <= 240.0
    assert VariantCounters.from_dict(merged.to_dict()) == merged


def clicked(requests: int, clicks: int) -> VariantCounters:
    c = counters(requests)
    for i in range(requests):
        assert c.label(i < clicks)
    return c


def test_click_through_slo_waits_for_feedback_then_judges_the_canary_against_the_stable() -> None:
    slo = {**DEFAULT_SLO, "ctr_min_ratio": 0.9, "ctr_min_feedback": 200}
    # Enough requests and time, but not enough labels: the canary waits, it is not stepped up unjudged.
    early = decide(clicked(1000, 100), clicked(150, 1), slo, POLICY, 0, 11)
    assert early.action == "wait" and "waiting for click feedback: canary 150/200" in early.reason
    worse = decide(clicked(1000, 100), clicked(400, 10), slo, POLICY, 0, 11)
    assert worse.action == "rollback" and "click-through rate 2.50% is below 90% of the stable's 10.00%" in worse.reason
    assert worse.numbers["ctr"]["p_value"] < 0.05 and worse.numbers["ctr"]["canary_feedback"] == 400
    same = decide(clicked(1000, 100), clicked(400, 38), slo, POLICY, 0, 11)
    assert same.action == "advance" and same.numbers["ctr"]["ratio"] == pytest.approx(0.95)
    # Without the SLO, or at 100 % (no stable traffic to compare with), clicks do not gate anything.
    assert decide(clicked(1000, 100), clicked(400, 10), DEFAULT_SLO, POLICY, 0, 11).action == "advance"
    assert decide(counters(0), clicked(400, 10), slo, POLICY, 2, 11).action == "promote"


def test_ratio_p_value_and_feedback_labels() -> None:
    assert ratio_p_value(10, 400, 100, 1000, 0.9) < 0.001
    assert ratio_p_value(100, 1000, 100, 1000, 0.9) > 0.5
    assert ratio_p_value(0, 0, 5, 10, 0.9) == 1.0
    c = VariantCounters()
    assert c.label(1) and c.label(False) and c.label(0.5) and not c.label("cat") and not c.label([1, 0])
    assert (c.feedback, c.positive, c.click_through) == (3, 2, pytest.approx(2 / 3))
    merged = VariantCounters.from_dict(c.to_dict()).merge(c)
    assert (merged.feedback, merged.positive) == (6, 4) and merged.summary()["click_through"] == pytest.approx(2 / 3)
