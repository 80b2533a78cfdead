"""The steps of a diagnosis, each a function of what was served and what the model was trained on.

Each returns a :class:`Step`: ``ok``, ``problem`` or ``not evaluated``, a one-line summary and
its numbers. The performance step is pluggable (:data:`PERFORMANCE`): until realised and
estimated performance are wired in, it reports ``not evaluated``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.monitoring.drift import compare
from slipway.monitoring.methods import method
from slipway.monitoring.monitor_run import quality_tables
from slipway.monitoring.quality import check_quality
from slipway.monitoring.reference import Reference
from slipway.monitoring.spec import DriftSpec

SCHEMA_KINDS = ("missing_column", "extra_column", "type_changed")
IMPORTANCE_ROWS = 500  # reference rows the permutation importance predicts on (seeded sample)


@dataclass
class Step:
    name: str
    status: str  # ok | problem | not evaluated
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Context:
    """What every step may look at: the served window, the training data, the served model."""

    deployment: Any  # ws.serving.get(...)
    window: pa.Table  # the payload log rows of the window (metadata, input., output columns)
    current: pa.Table  # the window's inputs and outputs under their own names
    reference_table: pa.Table  # the training data's input columns
    reference: Reference
    columns: list[str]  # the training schema's inputs
    predictor: Any  # the served model, or None when it cannot be loaded
    drift_check: dict[str, Any] | None = None  # the deployment monitor's drift check (methods, thresholds)


def serving_health(ctx: Context) -> Step:
    """Error rate and latency of the window's requests, against the deployment's SLO."""
    slo = ctx.deployment.spec.get("slo", {})
    rows = ctx.window.num_rows
    if rows == 0:
        return Step("serving health", "not evaluated", "no request in the window")
    errors = int(pc.sum(pc.greater_equal(ctx.window.column("status"), 500)).as_py() or 0)
    latency = np.asarray(ctx.window.column("latency_ms").to_numpy(zero_copy_only=False), dtype=float)
    p99 = float(np.quantile(latency, float(slo.get("latency_quantile", 0.99))))
    max_errors, max_latency = float(slo.get("max_error_rate", 0.01)), float(slo.get("max_latency_ms", 1000.0))
    numbers = {"rows": rows, "error_rate": errors / rows, "latency_quantile_ms": round(p99, 3),
               "max_error_rate": max_errors, "max_latency_ms": max_latency,
               "worker_restarts": "not recorded (see the inference server's /metrics)"}
    bad = [f"error rate {errors / rows:.2%} > {max_errors:.2%}"] if errors / rows > max_errors else []
    bad += [f"latency {p99:.1f} ms > {max_latency:g} ms"] if p99 > max_latency else []
    summary = "; ".join(bad) or f"error rate {errors / rows:.2%}, latency {p99:.1f} ms within the SLO"
    return Step("serving health", "problem" if bad else "ok", summary, numbers)


def _quality(ctx: Context) -> list[dict[str, Any]]:
    reference, current = quality_tables(ctx.reference_table, ctx.current, ctx.columns)
    return [asdict(f) for f in check_quality(reference, current).findings if f.severity == "error"]


def input_schema(ctx: Context) -> Step:
    """Missing, extra and retyped input columns against the training schema."""
    changes = [f for f in _quality(ctx) if f["kind"] in SCHEMA_KINDS]
    summary = "; ".join(f"{f['kind']} {f['column']}" for f in changes) or "the inputs match the training schema"
    return Step("input schema", "problem" if changes else "ok", summary, {"changes": changes})


def data_quality(ctx: Context) -> Step:
    """A broken feature pipeline: null shares, zeroed or constant columns, new categories, out of range."""
    findings = [f for f in _quality(ctx) if f["kind"] not in SCHEMA_KINDS]
    summary = "; ".join(f"{f['kind']} {f['column']}" + (f" ({f['share']:.0%})" if f["share"] is not None else "")
                        for f in findings) or "no nulls, zeroed, constant columns or new categories"
    return Step("data quality", "problem" if findings else "ok", summary, {"findings": findings})


def importance(ctx: Context) -> dict[str, float]:
    """Permutation importance of each input on the served model's scores (shares summing to 1;
    equal shares when the model cannot be asked)."""
    equal = {c: 1.0 / len(ctx.columns) for c in ctx.columns}
    if ctx.predictor is None or ctx.reference_table.num_rows == 0:
        return equal
    frame = ctx.reference_table.select(ctx.columns).to_pandas()
    frame = frame.sample(min(IMPORTANCE_ROWS, len(frame)), random_state=0).reset_index(drop=True)
    score: Callable[[Any], np.ndarray] = (
        (lambda f: np.asarray(ctx.predictor.predict_proba(f))[:, -1]) if ctx.predictor.has_predict_proba
        else (lambda f: np.asarray(ctx.predictor.predict(f), dtype=float).reshape(len(f), -1)[:, 0]))
    base = score(frame)
    rng = np.random.default_rng(0)
    moved = {}
    for column in ctx.columns:
        shuffled = frame.copy()
        shuffled[column] = shuffled[column].to_numpy()[rng.permutation(len(frame))]
        moved[column] = float(np.mean(np.abs(score(shuffled) - base)))
    total = sum(moved.values())
    return {c: v / total for c, v in moved.items()} if total > 0 else equal


def _strength(column: Any) -> float:
    """How far past its threshold a column's score is (1 at the threshold, for any method)."""
    if method(column.method).returns_p_value:
        p = max(column.p_value_adjusted if column.p_value_adjusted is not None else column.score, 1e-300)
        return math.log10(p) / math.log10(column.threshold)
    return float(column.score) / column.threshold if column.threshold else 0.0


def feature_drift(ctx: Context) -> Step:
    """Every input's drift test, ranked by its strength weighted by the model's importance of the
    feature. Methods and thresholds are those of the deployment monitor's drift check when it has
    one (Evidently's default choice otherwise)."""
    present = [c for c in ctx.columns if c in ctx.current.column_names]
    check = ctx.drift_check or {}
    report = compare(ctx.reference, ctx.current, DriftSpec.build(
        check.get("method"), check.get("threshold"), present, check.get("correction"), check.get("drift_share", 0.5)))
    weights = importance(ctx)
    ranked = sorted(({"column": c.column, "method": c.method, "score": c.to_json()["score"], "drifted": c.drifted,
                      "importance": round(weights.get(c.column, 0.0), 4),
                      "weighted": round(_strength(c) * weights.get(c.column, 0.0), 4)} for c in report.columns),
                    key=lambda r: (-r["drifted"], -r["weighted"]))
    drifted = [r["column"] for r in ranked if r["drifted"]]
    summary = (f"{len(drifted)} of {len(ranked)} inputs drifted: {', '.join(drifted)}" if drifted
               else "no input drifted")
    return Step("feature drift", "problem" if drifted else "ok", summary,
                {"drifted": drifted, "share_drifted": report.share_drifted, "ranked": ranked})


def prediction_drift(ctx: Context) -> Step:
    """The served predictions against the served model's predictions on its training data."""
    outputs = [n for n in ctx.current.column_names if n == "output"]
    answered = ctx.current.select(outputs).filter(pc.is_finite(ctx.current.column("output"))) if outputs else None
    if answered is None or answered.num_rows == 0 or ctx.predictor is None:
        return Step("prediction drift", "not evaluated", "no answered request logged, or no loadable model")
    expected = np.asarray(ctx.predictor.predict(ctx.reference_table.select(ctx.columns).to_pandas()), dtype=float)
    reference = Reference.of(pa.table({"output": expected.reshape(len(expected), -1)[:, 0]}))
    column = compare(reference, answered).columns[0]
    mean_now = float(pc.mean(answered.column("output")).as_py() or 0.0)
    numbers = {"method": column.method, "score": column.to_json()["score"], "threshold": column.threshold,
               "mean_reference": float(np.mean(expected)), "mean_current": mean_now}
    summary = (f"predictions {'drifted' if column.drifted else 'steady'}: mean {mean_now:.3f} against "
               f"{numbers['mean_reference']:.3f} on the training data ({column.method} {numbers['score']:.3g})")
    return Step("prediction drift", "problem" if column.drifted else "ok", summary, numbers)


def not_evaluated(ctx: Context) -> Step:
    return Step("performance", "not evaluated",
                "realised and estimated performance are not wired into the diagnosis yet")


# The one place the performance step is chosen: the integrator sets it to a function of the
# Context returning a Step (realised performance once labels arrive, CBPE/DLE estimates before,
# against the model's own evaluation), with "problem" when it fell.
PERFORMANCE: Callable[[Context], Step] = not_evaluated
