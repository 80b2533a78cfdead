"""The evaluation gate: TFX's "blessing" semantics.

* No thresholds, no blessing.
* A value threshold passes when ``lower <= value <= upper`` (either bound may be left out).
* A change threshold compares the candidate with the current champion, in the metric's good
  direction: the *improvement* is ``candidate - champion`` when higher is better and
  ``champion - candidate`` when lower is better. ``change_absolute`` passes when
  ``improvement >= change_absolute`` and ``change_relative`` when
  ``improvement / |champion| >= change_relative``; a negative bound is a tolerated regression
  (``change_absolute=-0.01``: at most 0.01 worse).
* A metric the candidate lacks (or NaN) fails; so does a change threshold whose metric the
  champion lacks.
* With no champion yet, change thresholds are skipped (recorded as such).

The verdict, a :class:`Blessing`, records every check with its numbers.
"""

from __future__ import annotations

import math
from typing import Any

from slipway.core.errors import InvalidInput
from slipway.core.records import as_plain, record


@record
class MetricThreshold:
    metric: str
    lower: float | None = None
    upper: float | None = None
    change_absolute: float | None = None
    change_relative: float | None = None
    higher_is_better: bool = True


@record
class ThresholdCheck:
    metric: str
    kind: str  # lower | upper | change_absolute | change_relative
    bound: float
    candidate: float | None
    champion: float | None
    observed: float | None  # the value, or the improvement (absolute or relative) that was compared
    passed: bool
    skipped: bool
    message: str


@record
class Blessing:
    blessed: bool
    checks: list[ThresholdCheck]
    champion: str | None  # the champion's reference, e.g. "churn/3"
    candidate_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    reason: str

    @property
    def failed(self) -> list[ThresholdCheck]:
        return [c for c in self.checks if not c.passed and not c.skipped]

    @property
    def summary(self) -> str:
        return self.reason

    def __bool__(self) -> bool:
        return self.blessed

    def to_details(self) -> dict[str, Any]:
        """What the step run records about the verdict."""
        return {"gate": as_plain(self)}


_KEYS = {"lower", "upper", "change_absolute", "change_relative", "higher_is_better"}


def parse_thresholds(spec: Any) -> list[MetricThreshold]:
    """Thresholds from a list of :class:`MetricThreshold` (or dicts with a ``metric`` key), or a
    mapping ``{metric: {lower: .., change_absolute: .., higher_is_better: ..}}``."""
    if spec is None:
        return []
    items: list[Any]
    if isinstance(spec, dict):
        items = [{"metric": metric, **(options or {})} for metric, options in spec.items()]
    elif isinstance(spec, list | tuple):
        items = list(spec)
    else:
        raise InvalidInput(f"thresholds must be a mapping or a list, not {type(spec).__name__}")
    result = []
    for item in items:
        if isinstance(item, MetricThreshold):
            threshold = item
        elif isinstance(item, dict):
            unknown = set(item) - _KEYS - {"metric"}
            if unknown or not isinstance(item.get("metric"), str):
                raise InvalidInput(f"threshold {item!r}: needs 'metric'; allowed keys are {sorted(_KEYS)}")
            threshold = MetricThreshold(**item)
        else:
            raise InvalidInput(f"not a threshold: {item!r}")
        bounds = [threshold.lower, threshold.upper, threshold.change_absolute, threshold.change_relative]
        if all(b is None for b in bounds):
            raise InvalidInput(f"threshold on {threshold.metric!r} sets no bound")
        for bound in bounds:
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float) or math.isnan(bound)):
                raise InvalidInput(f"threshold on {threshold.metric!r}: bound {bound!r} is not a number")
        result.append(threshold)
    return result


def evaluate_gate(candidate: dict[str, float], thresholds: Any, champion: dict[str, float] | None = None,
                  champion_ref: str | None = None) -> Blessing:
    """Check ``candidate`` metrics against ``thresholds`` (and ``champion`` metrics, if any)."""
    parsed = parse_thresholds(thresholds)
    metrics = {k: float(v) for k, v in (candidate or {}).items() if _is_number(v)}
    base = {k: float(v) for k, v in champion.items() if _is_number(v)} if champion is not None else None
    if not parsed:
        return Blessing(False, [], champion_ref, metrics, base,
                        "not blessed: no thresholds were configured (no thresholds, no blessing)")
    checks: list[ThresholdCheck] = []
    for threshold in parsed:
        checks.extend(_check(threshold, metrics, base))
    failed = [c for c in checks if not c.passed and not c.skipped]
    reason = "blessed: every threshold passed" if not failed else "not blessed: " + "; ".join(c.message for c in failed)
    if not failed and any(c.skipped for c in checks):
        reason += " (change thresholds skipped: no other champion to compare with)"
    return Blessing(not failed, checks, champion_ref, metrics, base, reason)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check(t: MetricThreshold, metrics: dict[str, float], base: dict[str, float] | None) -> list[ThresholdCheck]:
    value = metrics.get(t.metric)
    out: list[ThresholdCheck] = []
    missing = value is None or math.isnan(value)
    for kind, bound in (("lower", t.lower), ("upper", t.upper)):
        if bound is None:
            continue
        if missing:
            out.append(ThresholdCheck(t.metric, kind, bound, value, None, None, False, False,
                                      f"{t.metric} is missing from the candidate's metrics"))
        elif kind == "lower":
            ok = value >= bound  # type: ignore[operator]
            out.append(ThresholdCheck(t.metric, kind, bound, value, None, value, ok, False,
                                      f"{t.metric} = {value:.6g} is {'>=' if ok else '<'} lower bound {bound:g}"))
        else:
            ok = value <= bound  # type: ignore[operator]
            out.append(ThresholdCheck(t.metric, kind, bound, value, None, value, ok, False,
                                      f"{t.metric} = {value:.6g} is {'<=' if ok else '>'} upper bound {bound:g}"))
    for kind, bound in (("change_absolute", t.change_absolute), ("change_relative", t.change_relative)):
        if bound is None:
            continue
        out.append(_change(t, kind, bound, value, missing, base))
    return out


def _change(t: MetricThreshold, kind: str, bound: float, value: float | None, missing: bool,
            base: dict[str, float] | None) -> ThresholdCheck:
    if base is None:
        return ThresholdCheck(t.metric, kind, bound, value, None, None, True, True, f"{t.metric}: no other champion to compare with, {kind} skipped")
    if missing:
        return ThresholdCheck(t.metric, kind, bound, value, None, None, False, False,
                              f"{t.metric} is missing from the candidate's metrics")
    old = base.get(t.metric)
    if old is None or math.isnan(old):
        return ThresholdCheck(t.metric, kind, bound, value, old, None, False, False,
                              f"{t.metric} is missing from the champion's metrics")
    assert value is not None
    improvement = value - old if t.higher_is_better else old - value
    direction = "higher" if t.higher_is_better else "lower"
    if kind == "change_absolute":
        observed = improvement
        what = f"improvement {observed:+.6g} ({direction} is better; candidate {value:.6g} vs champion {old:.6g})"
    else:
        observed = improvement / abs(old) if old != 0 else (0.0 if improvement == 0 else math.copysign(math.inf, improvement))
        what = f"relative improvement {observed:+.4%} ({direction} is better; candidate {value:.6g} vs champion {old:.6g})"
    ok = observed >= bound
    return ThresholdCheck(t.metric, kind, bound, value, old, observed, ok, False,
                          f"{t.metric} {kind}: {what} is {'>=' if ok else '<'} {bound:g}")
