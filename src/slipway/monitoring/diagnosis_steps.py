"""The steps of a diagnosis, each a function of what was served and what the model was trained on.

Each returns a :class:`Step`: ``ok``, ``problem`` or ``not evaluated``, a one-line summary and
its numbers. The performance step (:func:`performance`, chosen through :data:`PERFORMANCE`) is
the realised metric over the window when feedback labels arrived for enough of its rows, the
CBPE (classification; multiclass CBPE and macro metrics for a classifier of three classes or
more) or DLE (regression) estimate otherwise, against the model version's own
evaluation metric (what its run recorded) and the training data's chunk band.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.core.errors import SlipwayError
from slipway.monitoring.cbpe_multiclass import METRICS as MULTICLASS_METRICS
from slipway.monitoring.drift import compare
from slipway.monitoring.labelled import add_model_outputs, join_labels, probability_columns
from slipway.monitoring.methods import method
from slipway.monitoring.monitor_run import quality_tables
from slipway.monitoring.performance import _labels
from slipway.monitoring.performance_check import (
    ESTIMABLE,
    LOWER_IS_BETTER,
    MIN_LABELS,
    WindowPerformance,
    window_performance,
    worse_by,
)
from slipway.monitoring.quality import check_quality, skew_findings
from slipway.monitoring.reference import Reference
from slipway.monitoring.skew import SkewReport, find_key, training_serving_skew
from slipway.monitoring.spec import DriftSpec

SCHEMA_KINDS = ("missing_column", "extra_column", "type_changed")
MAX_WORKER_RESTARTS = 2  # restarts in a window the serving-health step tolerates (SLO max_worker_restarts)
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
    training: pa.Table | None = None  # the whole training table (inputs and the label)
    feedback: dict[str, Any] = field(default_factory=dict)  # labels posted to the feedback endpoint, by request id
    evaluation: dict[str, float] = field(default_factory=dict)  # the served version's recorded metrics
    params: dict[str, str] = field(default_factory=dict)  # the served version's recorded parameters
    target: str | None = None  # the label column, when the caller names it
    restarts: int | None = None  # worker restarts the inference server recorded during the window


def serving_health(ctx: Context) -> Step:
    """Error rate and latency of the window's requests, against the deployment's SLO, and the
    worker restarts the inference server's supervisor recorded since the window's first request
    (a problem past the SLO's ``max_worker_restarts``, default 2)."""
    slo = ctx.deployment.spec.get("slo", {})
    rows = ctx.window.num_rows
    if rows == 0:
        return Step("serving health", "not evaluated", "no request in the window")
    errors = int(pc.sum(pc.greater_equal(ctx.window.column("status"), 500)).as_py() or 0)
    latency = np.asarray(ctx.window.column("latency_ms").to_numpy(zero_copy_only=False), dtype=float)
    p99 = float(np.quantile(latency, float(slo.get("latency_quantile", 0.99))))
    max_errors, max_latency = float(slo.get("max_error_rate", 0.01)), float(slo.get("max_latency_ms", 1000.0))
    max_restarts = int(slo.get("max_worker_restarts", MAX_WORKER_RESTARTS))
    numbers = {"rows": rows, "error_rate": errors / rows, "latency_quantile_ms": round(p99, 3),
               "max_error_rate": max_errors, "max_latency_ms": max_latency,
               "worker_restarts": ctx.restarts, "max_worker_restarts": max_restarts}
    bad = [f"error rate {errors / rows:.2%} > {max_errors:.2%}"] if errors / rows > max_errors else []
    bad += [f"latency {p99:.1f} ms > {max_latency:g} ms"] if p99 > max_latency else []
    bad += [f"{ctx.restarts} worker restarts > {max_restarts}"] if (ctx.restarts or 0) > max_restarts else []
    restarts = "" if ctx.restarts is None else f", {ctx.restarts} worker restarts"
    summary = "; ".join(bad) or f"error rate {errors / rows:.2%}, latency {p99:.1f} ms{restarts} within the SLO"
    return Step("serving health", "problem" if bad else "ok", summary, numbers)


def _quality(ctx: Context) -> list[dict[str, Any]]:
    reference, current = quality_tables(ctx.reference_table, ctx.current, ctx.columns)
    return [asdict(f) for f in check_quality(reference, current).findings if f.severity == "error"]


def input_schema(ctx: Context) -> Step:
    """Missing, extra and retyped input columns against the training schema."""
    changes = [f for f in _quality(ctx) if f["kind"] in SCHEMA_KINDS]
    summary = "; ".join(f"{f['kind']} {f['column']}" for f in changes) or "the inputs match the training schema"
    return Step("input schema", "problem" if changes else "ok", summary, {"changes": changes})


def _skew(ctx: Context) -> SkewReport | None:
    """Training-serving skew when the served rows carry the training data's key column."""
    training = ctx.training if ctx.training is not None else ctx.reference_table
    key = find_key(training, ctx.current)
    if key is None:
        return None
    return training_serving_skew(training, ctx.current, key, [c for c in ctx.columns if c != key])


def data_quality(ctx: Context) -> Step:
    """A broken feature pipeline: null shares, zeroed or constant columns, new categories, out of
    range, and training-serving skew when the served rows carry the training data's key."""
    findings = [f for f in _quality(ctx) if f["kind"] not in SCHEMA_KINDS]
    skew = _skew(ctx)
    if skew is not None:
        findings += [asdict(f) for f in skew_findings(skew)]
    summary = "; ".join(f"{f['kind']} {f['column']}" + (f" ({f['share']:.0%})" if f["share"] is not None else "")
                        for f in findings) or "no nulls, zeroed, constant columns or new categories" + (
                            f"; no skew against the training rows (joined on {skew.key})" if skew else "")
    evidence: dict[str, Any] = {"findings": findings}
    if skew is not None:
        evidence["skew"] = skew.to_json()
    return Step("data quality", "problem" if findings else "ok", summary, evidence)


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
    """The served predictions against the served model's predictions on its training data: their
    means for numbers, their class shares for class labels that are strings."""
    if "output" not in ctx.current.column_names or ctx.predictor is None:
        return Step("prediction drift", "not evaluated", "no answered request logged, or no loadable model")
    served = ctx.current.column("output")
    labels = pa.types.is_string(served.type) or pa.types.is_large_string(served.type)
    answered = ctx.current.select(["output"]).filter(pc.is_valid(served) if labels else pc.is_finite(served))
    if answered.num_rows == 0:
        return Step("prediction drift", "not evaluated", "no answered request logged, or no loadable model")
    predicted = np.asarray(ctx.predictor.predict(ctx.reference_table.select(ctx.columns).to_pandas()))
    expected = predicted.reshape(len(predicted), -1)[:, 0]
    if labels:
        expected = expected.astype(str)
        answered = answered.cast(pa.schema([("output", pa.string())]))
    else:
        expected = expected.astype(float)
    column = compare(Reference.of(pa.table({"output": expected})), answered).columns[0]
    numbers: dict[str, Any] = {"method": column.method, "score": column.to_json()["score"],
                               "threshold": column.threshold}
    if labels:
        numbers["shares_reference"], numbers["shares_current"] = _shares(expected), _shares(
            np.asarray(answered.column("output").to_pylist(), dtype=str))
        now, then = max(numbers["shares_current"].items(), key=lambda kv: kv[1]), numbers["shares_reference"]
        shown = f"{now[0]} {now[1]:.1%} of predictions against {then.get(now[0], 0.0):.1%}"
    else:
        numbers["mean_reference"] = float(np.mean(expected))
        numbers["mean_current"] = float(pc.mean(answered.column("output")).as_py() or 0.0)
        shown = f"mean {numbers['mean_current']:.3f} against {numbers['mean_reference']:.3f}"
    summary = (f"predictions {'drifted' if column.drifted else 'steady'}: {shown} on the training data "
               f"({column.method} {numbers['score']:.3g})")
    return Step("prediction drift", "problem" if column.drifted else "ok", summary, numbers)


def _shares(values: np.ndarray) -> dict[str, float]:
    classes, counts = np.unique(values, return_counts=True)
    return {str(c): round(float(n) / len(values), 4) for c, n in zip(classes.tolist(), counts.tolist(), strict=True)}


def _target(ctx: Context, training: pa.Table, prediction: Any, classifier: bool) -> str | None:
    """The label column of the training data: named by the caller or the run's parameters
    (``target``, ``label``), else the non-input column the model's predictions on the training
    rows agree with best (it was trained to predict it): numeric for a regressor, numeric or
    string class labels for a classifier."""
    for name in (ctx.target, *(ctx.params.get(k) for k in ("target", "label", "target_column", "label_column"))):
        if name and name in training.column_names:
            return name
    best, agreement = None, 0.5 if classifier else 0.0
    table = pa.table({"prediction": prediction})
    predicted = (_labels(table, "prediction") if classifier
                 else np.asarray(prediction.to_numpy(zero_copy_only=False), dtype=float))
    for name in training.column_names:
        field_type = training.schema.field(name).type
        numeric = pa.types.is_integer(field_type) or pa.types.is_floating(field_type) or pa.types.is_boolean(field_type)
        labels = classifier and (pa.types.is_string(field_type) or pa.types.is_large_string(field_type))
        if name in ctx.columns or not (numeric or labels):
            continue
        if classifier:
            if training.column(name).null_count:
                continue
            column = training.column(name)
            column = column.cast(pa.int64()) if pa.types.is_boolean(field_type) else column
            classes = _labels(pa.table({name: column}), name)
            if len(set(classes.tolist())) < 2:
                continue
            score = float(np.mean(classes == predicted))
            if score > agreement:
                best, agreement = name, score
            continue
        values = np.asarray(training.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        if not np.isfinite(values).all() or np.std(values) == 0:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            score = float(abs(np.corrcoef(values, predicted)[0, 1]))
        if np.isfinite(score) and score > agreement:
            best, agreement = name, score
    return best


def _metric(evaluation: dict[str, float], classifier: bool, labelled: bool, multiclass: bool = False) -> str:
    """The metric the model's own evaluation recorded (first known one in order of preference),
    limited to what CBPE/DLE estimate when the window has no labels (to the macro metrics for a
    multiclass classifier)."""
    preferred = (("roc_auc", "f1", "accuracy", "recall", "precision", "log_loss") if classifier
                 else ("rmse", "mae", "mape", "r2"))
    usable = (MULTICLASS_METRICS if multiclass else preferred if labelled
              else ESTIMABLE["classification" if classifier else "regression"])
    return next((m for m in preferred if m in evaluation and m in usable),
                "roc_auc" if classifier else "mae")


def _confidently_worse(found: WindowPerformance, baseline: float) -> float:
    """How much worse than ``baseline`` even the favourable end of the window's interval is."""
    best = found.value if found.lower is None or found.upper is None else (
        found.lower if found.metric in LOWER_IS_BETTER else found.upper)
    return worse_by(found.metric, float(best if best is not None else found.value or 0.0), baseline)


def performance(ctx: Context) -> Step:
    """Realised performance over the window when feedback labels arrived for at least
    ``MIN_LABELS`` of its rows, the CBPE/DLE estimate otherwise, against the model version's own
    evaluation (its run's recorded metric) and the training data's chunk band. A problem when the
    value leaves the band on the worse side and even the favourable end of its interval is more
    than ``TOLERANCE`` (relative) worse than the recorded evaluation (than the training data's
    value when the run recorded none)."""
    if ctx.predictor is None or ctx.training is None:
        return Step("performance", "not evaluated", "the served model cannot be loaded")
    classifier = bool(ctx.predictor.has_predict_proba)
    problem = "classification" if classifier else "regression"
    try:
        training = add_model_outputs(ctx.training, ctx.predictor, prediction="prediction", score="score",
                                     problem=problem)
        multiclass = bool(probability_columns(training, "score"))
        target = _target(ctx, ctx.training, training.column("prediction"), classifier)
        if target is None:
            return Step("performance", "not evaluated", "the training data has no label column the model predicts")
        current = join_labels(ctx.window, ctx.feedback, target=target, prediction="prediction", score="score")
        if "prediction" in current.column_names:  # failed requests have no output
            current = current.filter(pc.is_valid(current.column("prediction")))
        current = add_model_outputs(current, ctx.predictor, prediction="prediction", score="score", problem=problem)
        labelled = int(pc.sum(pc.is_valid(current.column(target))).as_py() or 0)
        metric = _metric(ctx.evaluation, classifier, labelled >= MIN_LABELS, multiclass)
        found = window_performance(training, current, metric=metric, target=target,
                                   features=[c for c in ctx.columns if c in current.column_names])
    except SlipwayError as err:
        return Step("performance", "not evaluated", f"performance could not be computed: {err}")
    evaluation = ctx.evaluation.get(metric)
    baseline, against = ((float(evaluation), "its recorded evaluation") if evaluation is not None
                         else (found.reference, "its training data (the run recorded no evaluation)"))
    worse = _confidently_worse(found, baseline) if baseline is not None and found.value is not None else 0.0
    tolerance = max(TOLERANCE * abs(baseline or 0.0), 0.01)
    fell = found.outside_band and worse > tolerance
    numbers = {**found.to_json(), "target": target, "evaluation": evaluation, "baseline": baseline,
               "tolerance": tolerance}
    if found.value is None:
        return Step("performance", "not evaluated", f"{metric} is undefined on the window", numbers)
    how = f"{found.source} on {found.labelled} labelled rows" if found.source == "realised" else (
        f"estimated by {(found.estimator or '').upper()}, {found.labelled} labelled rows")
    summary = (f"{metric} {found.value:.3f} ({how}) against {baseline if baseline is not None else float('nan'):.3f}, {against}; reference band "
               f"[{found.band_lower or 0.0:.3f}, {found.band_upper if found.band_upper is not None else float('inf'):.3f}]")
    return Step("performance", "problem" if fell else "ok", ("fell: " if fell else "") + summary, numbers)


def not_evaluated(ctx: Context) -> Step:
    return Step("performance", "not evaluated", "performance is not evaluated")


TOLERANCE = 0.05  # a fall in performance counts past 5 % of the baseline (at least 0.01)

# The one place the performance step is chosen (a function of the Context returning a Step).
PERFORMANCE: Callable[[Context], Step] = performance
