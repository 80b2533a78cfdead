"""The canary decision rule: when to wait, step up, promote or roll back.

On every tick the controller merges the current step's counters of the stable and canary
variants (all workers) and applies, in order:

1. **Error rate, absolute.** Roll back when the one-sided Wilson lower bound of the canary's error
   rate, at ``confidence``, is above ``slo.max_error_rate``: the canary is then worse than the SLO
   with that confidence. Checked from ``min_decision_requests`` on, so a canary failing 20% of
   requests is rolled back after a few dozen requests, long before its step ends.
2. **Error rate, relative.** Roll back when a one-sided two-proportion z-test says the canary's
   error rate exceeds the stable's (p < 1 - confidence) by more than ``slo.max_error_rate_increase``.
3. **Latency.** With at least ``min_requests`` canary requests: roll back when the canary's
   ``slo.latency_quantile`` latency is above ``slo.max_latency_ms``, or above the stable's same
   quantile times ``1 + slo.latency_tolerance`` (when the stable has ``min_requests`` too).
4. **Prediction drift.** With ``min_requests`` on both: roll back when the mean predictions differ
   by more than ``slo.max_prediction_drift``.
5. **Click-through rate** (a business SLO, when ``slo.ctr_min_ratio`` is set). Feedback labels
   posted to the inference server are counted per variant (a positive label is a click). Once
   both variants have ``slo.ctr_min_feedback`` labels in the step: roll back when a one-sided
   Wald test says the canary's CTR is below ``ctr_min_ratio`` times the stable's (p < 1 -
   confidence), e.g. ``ctr_min_ratio: 0.9``: the canary must keep 90 % of the stable's clicks.
   Until then the canary **waits** for feedback (it never steps up unjudged). At a step where the
   stables get no traffic (100 %) there is nothing to compare with: the earlier steps judged it.
6. Otherwise **advance** when the step has lasted ``min_seconds`` and the canary has served
   ``min_requests``; after the last step (usually 100%) **promote**. Else **wait**.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from scipy.stats import norm

from slipway.deploy.stats import VariantCounters


@dataclasses.dataclass(frozen=True)
class CanaryDecision:
    action: str  # wait | advance | promote | rollback
    reason: str
    numbers: dict[str, Any]


def wilson_bounds(errors: int, n: int, confidence: float) -> tuple[float, float]:
    """One-sided Wilson score bounds (lower, upper) of a proportion at ``confidence``."""
    if n == 0:
        return 0.0, 1.0
    z = float(norm.ppf(confidence))
    p = errors / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_p_value(errors_a: int, n_a: int, errors_b: int, n_b: int) -> float:
    """One-sided p-value that proportion a exceeds proportion b (pooled z-test)."""
    if n_a == 0 or n_b == 0:
        return 1.0
    pooled = (errors_a + errors_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 1.0
    z = (errors_a / n_a - errors_b / n_b) / se
    return float(norm.sf(z))


def ratio_p_value(hits_a: int, n_a: int, hits_b: int, n_b: int, ratio: float) -> float:
    """One-sided p-value that proportion a is below ``ratio`` times proportion b (Wald z-test of
    ``p_a - ratio * p_b``; 1.0 when there is no variance to test with, i.e. no evidence)."""
    if n_a == 0 or n_b == 0:
        return 1.0
    p_a, p_b = hits_a / n_a, hits_b / n_b
    se = math.sqrt(p_a * (1 - p_a) / n_a + ratio * ratio * p_b * (1 - p_b) / n_b)
    if se == 0:
        return 0.0 if p_a < ratio * p_b else 1.0
    return float(norm.cdf((p_a - ratio * p_b) / se))


def _click_through(stable: VariantCounters, canary: VariantCounters, slo: dict[str, Any], confidence: float,
                   weight: float, numbers: dict[str, Any]) -> CanaryDecision | None:
    """Rule 5: a rollback, a wait for feedback, or None (judged healthy, or not asked for)."""
    ratio = slo.get("ctr_min_ratio")
    if ratio is None or weight >= 100:
        return None
    minimum = int(slo.get("ctr_min_feedback", 200))
    c_ctr, s_ctr = canary.click_through, stable.click_through
    judged: dict[str, Any] = {"canary": c_ctr, "stable": s_ctr, "canary_feedback": canary.feedback,
                              "stable_feedback": stable.feedback, "min_ratio": float(ratio), "min_feedback": minimum}
    numbers["ctr"] = judged
    if canary.feedback < minimum or stable.feedback < minimum:
        return CanaryDecision("wait", f"waiting for click feedback: canary {canary.feedback}/{minimum}, stable "
                              f"{stable.feedback}/{minimum} labels", numbers)
    c_ctr, s_ctr = canary.positive / canary.feedback, stable.positive / stable.feedback
    p_value = ratio_p_value(canary.positive, canary.feedback, stable.positive, stable.feedback, float(ratio))
    judged.update(ratio=(c_ctr / s_ctr) if s_ctr else None, p_value=p_value)
    if p_value < 1 - confidence:
        return CanaryDecision("rollback", f"canary click-through rate {c_ctr:.2%} is below {float(ratio):.0%} of the "
                              f"stable's {s_ctr:.2%} ({canary.feedback} and {stable.feedback} labels, "
                              f"p={p_value:.3g})", numbers)
    return None


def decide(stable: VariantCounters, canary: VariantCounters, slo: dict[str, Any], policy: dict[str, Any],
           step_index: int, step_elapsed_s: float) -> CanaryDecision:
    """Apply the rule above to one step's counters."""
    confidence = float(slo.get("confidence", 0.95))
    quantile = float(slo.get("latency_quantile", 0.99))
    min_requests = int(policy.get("min_requests", 100))
    steps = list(policy.get("steps", [100]))
    lower, upper = wilson_bounds(canary.errors, canary.requests, confidence)
    numbers: dict[str, Any] = {
        "step": step_index, "weight": steps[step_index] if step_index < len(steps) else 100,
        "step_elapsed_s": round(step_elapsed_s, 3), "confidence": confidence,
        "canary": canary.summary(quantile), "stable": stable.summary(quantile),
        "canary_error_rate_bounds": [round(lower, 6), round(upper, 6)],
    }
    if canary.requests >= int(policy.get("min_decision_requests", 20)):
        max_error = float(slo.get("max_error_rate", 0.01))
        if lower > max_error:
            return CanaryDecision("rollback", f"canary error rate {canary.error_rate:.2%} is above the SLO "
                                  f"{max_error:.2%} (Wilson lower bound {lower:.2%} at {confidence:.0%})", numbers)
        p_value = two_proportion_p_value(canary.errors, canary.requests, stable.errors, stable.requests)
        numbers["error_rate_p_value"] = p_value
        increase = float(slo.get("max_error_rate_increase", 0.01))
        if p_value < 1 - confidence and canary.error_rate - stable.error_rate > increase:
            return CanaryDecision("rollback", f"canary error rate {canary.error_rate:.2%} exceeds the stable's "
                                  f"{stable.error_rate:.2%} (p={p_value:.3g})", numbers)
    if canary.requests >= min_requests:
        canary_q = canary.latency_quantile_ms(quantile) or 0.0
        max_latency = slo.get("max_latency_ms")
        if max_latency is not None and canary_q > float(max_latency):
            return CanaryDecision("rollback", f"canary p{quantile * 100:g} latency {canary_q:.1f} ms is above "
                                  f"the SLO {float(max_latency):.1f} ms", numbers)
        stable_q = stable.latency_quantile_ms(quantile)
        tolerance = float(slo.get("latency_tolerance", 0.5))
        if stable_q is not None and stable.requests >= min_requests and canary_q > stable_q * (1 + tolerance) + 1.0:
            return CanaryDecision("rollback", f"canary p{quantile * 100:g} latency {canary_q:.1f} ms is more "
                                  f"than {tolerance:.0%} above the stable's {stable_q:.1f} ms", numbers)
        drift = slo.get("max_prediction_drift")
        c_mean, s_mean = canary.prediction_mean, stable.prediction_mean
        if drift is not None and c_mean is not None and s_mean is not None and stable.pred_count >= min_requests:
            numbers["prediction_drift"] = abs(c_mean - s_mean)
            if abs(c_mean - s_mean) > float(drift):
                return CanaryDecision("rollback", f"mean prediction moved by {abs(c_mean - s_mean):.4g}, more "
                                      f"than the bound {float(drift):.4g}", numbers)
        business = _click_through(stable, canary, slo, confidence, float(numbers["weight"]), numbers)
        if business is not None:
            return business
        if step_elapsed_s >= float(policy.get("min_seconds", 60)):
            if step_index + 1 >= len(steps):
                return CanaryDecision("promote", f"healthy through every step ({steps})", numbers)
            return CanaryDecision("advance", f"healthy at {steps[step_index]}%: stepping to "
                                  f"{steps[step_index + 1]}%", numbers)
    return CanaryDecision("wait", f"{canary.requests}/{min_requests} requests, {step_elapsed_s:.0f}/"
                          f"{float(policy.get('min_seconds', 60)):.0f} s into the step", numbers)
