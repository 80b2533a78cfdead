"""One window's performance against its reference: what a monitor's ``performance`` check and the
diagnosis's performance step both judge.

The window is one chunk. Its value is **realised** on the rows whose labels arrived (when there are
at least ``min_labels`` of them), otherwise **estimated** from the model's outputs on all rows
(CBPE for classification, DLE for regression, fitted on the labelled reference). The reference
gives the expected value (the metric over all its rows) and NannyML's band: the reference cut into
chunks of the window's size (at least five chunks), the metric on each, mean ± 3 std.

"Worse" depends on the metric: ``roc_auc``, ``f1``, ``precision``, ``recall``, ``accuracy`` and
A multiclass classifier's tables carry one probability column per class (``score.<class>``, see
:func:`slipway.monitoring.labelled.probability_columns`) and class labels in ``target`` and
``prediction``: the value is then the macro-averaged metric, realised
(:func:`~slipway.monitoring.cbpe_multiclass.realised_multiclass`) or estimated by multiclass CBPE
(:class:`~slipway.monitoring.cbpe_multiclass.MulticlassCBPE`), and the band is that of the
macro metric over the reference's chunks.

``r2`` fall when a model decays, ``mae``, ``rmse``, ``mape`` and ``log_loss`` rise. ``drop`` is
always positive when the window is worse than the reference.

Example:
    >>> found = window_performance(reference, current, metric="roc_auc", target="failure")
    >>> found.source, found.value, found.reference, found.drop, found.outside_band
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from slipway.core.errors import InvalidInput
from slipway.monitoring import cbpe, cbpe_multiclass, dle
from slipway.monitoring.chunks import Chunking
from slipway.monitoring.labelled import probability_columns
from slipway.monitoring.performance import _floats, _labels, _outputs, _require, _thresholds
from slipway.monitoring.realised import CLASSIFICATION, REGRESSION, realised

LOWER_IS_BETTER = frozenset({"mae", "rmse", "mape", "log_loss"})
SOURCES = ("auto", "realised", "estimated")
MIN_LABELS = 50  # labelled rows below which a window's performance is estimated rather than realised
REFERENCE_CHUNKS = 5  # the band needs at least this many reference chunks
ESTIMABLE = {"classification": cbpe.METRICS, "regression": dle.METRICS}


def problem_of(metric: str) -> str:
    """``classification`` or ``regression`` for a known metric.

    Raises:
        InvalidInput: an unknown metric, with the known ones.
    """
    if metric in CLASSIFICATION:
        return "classification"
    if metric in REGRESSION:
        return "regression"
    raise InvalidInput(f"unknown performance metric {metric!r}; known: {', '.join(CLASSIFICATION + REGRESSION)}")


def worse_by(metric: str, value: float, baseline: float) -> float:
    """How much worse ``value`` is than ``baseline`` (positive when worse) for ``metric``."""
    return value - baseline if metric in LOWER_IS_BETTER else baseline - value


@dataclass
class WindowPerformance:
    """A metric on one window: ``value`` (realised or estimated, ``source``) with its interval
    (``lower``/``upper``: the bootstrap interval or the estimate's band), the reference's value and
    band (``band_lower``/``band_upper``), and how much worse the window is (``drop``)."""

    metric: str
    source: str  # realised | estimated
    value: float | None
    lower: float | None
    upper: float | None
    reference: float | None
    band_lower: float | None
    band_upper: float | None
    rows: int
    labelled: int
    estimator: str | None

    @property
    def drop(self) -> float | None:
        if self.value is None or self.reference is None:
            return None
        return worse_by(self.metric, self.value, self.reference)

    @property
    def outside_band(self) -> bool:
        """The value lies beyond the reference band on the worse side."""
        if self.value is None:
            return False
        if self.metric in LOWER_IS_BETTER:
            return self.band_upper is not None and self.value > self.band_upper
        return self.band_lower is not None and self.value < self.band_lower

    def gauge(self) -> dict[str, Any]:
        """The entry :mod:`slipway.monitoring.gauges` exports as ``slipway_monitor_performance``."""
        return {"metric": self.metric, "source": self.source, "value": self.value, "lower": self.lower,
                "upper": self.upper}

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "drop": self.drop, "outside_band": self.outside_band}


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def window_performance(reference: pa.Table, current: pa.Table, *, metric: str, target: str,
                       prediction: str = "prediction", score: str | None = "score",
                       features: list[str] | None = None, source: str = "auto", min_labels: int = MIN_LABELS,
                       replicates: int = 200, seed: int = 0) -> WindowPerformance:
    """``metric`` on ``current`` as one chunk, against ``reference`` (labelled, with the model's
    ``prediction`` and, for classification, ``score`` columns).

    Args:
        source: ``realised`` (labels required), ``estimated`` (CBPE/DLE), or ``auto``: realised
            when at least ``min_labels`` rows of the window are labelled, estimated otherwise.
        features: the model inputs DLE learns the loss from (regression; default: the columns both
            tables share other than target, prediction and score).

    Raises:
        InvalidInput: an unknown metric or source, missing columns, a reference without labels,
            ``realised`` with too few labels, or ``estimated`` for a metric no estimator covers.
    """
    problem = problem_of(metric)
    if source not in SOURCES:
        raise InvalidInput(f"performance source must be one of {', '.join(SOURCES)}, not {source!r}")
    probabilities = probability_columns(reference, score) if problem == "classification" else {}
    if probabilities:
        return _multiclass_window(reference, current, metric=metric, target=target, prediction=prediction,
                                  probabilities=probabilities, source=source, min_labels=min_labels,
                                  replicates=replicates, seed=seed)
    needs_score = problem == "classification"
    y, yhat, s = _outputs(current, "current", target, prediction, score if needs_score else None, problem,
                          labels_required=False)
    ry, ryhat, rs = _outputs(reference, "reference", target, prediction, score if needs_score else None, problem,
                             labels_required=True)
    n, labelled = current.num_rows, np.isfinite(y)
    count = int(labelled.sum())
    if n == 0 or reference.num_rows == 0:
        raise InvalidInput("performance needs rows in both the window and the reference")
    chunk = max(1, min(n, reference.num_rows // REFERENCE_CHUNKS))
    ref_chunks = Chunking.build(chunk).split(reference.num_rows)
    band_lower, band_upper = _thresholds(metric, ry, ryhat, rs, ref_chunks)
    whole = realised([metric], ry, ryhat, rs, replicates=0)[metric].value
    use_realised = source == "realised" or (source == "auto" and count >= max(1, min_labels))
    if use_realised:
        if count < max(1, min_labels):
            raise InvalidInput(f"realised {metric} needs at least {min_labels} labelled rows; the window has {count}")
        found = realised([metric], y[labelled], yhat[labelled], None if s is None else s[labelled],
                         replicates=replicates, seed=seed)[metric]
        return WindowPerformance(metric, "realised", _finite(found.value), found.lower, found.upper, _finite(whole),
                                 band_lower, band_upper, n, count, None)
    if metric not in ESTIMABLE[problem]:
        raise InvalidInput(f"{metric} cannot be estimated without labels (estimable: "
                           f"{', '.join(ESTIMABLE[problem])}); the window has {count} labelled rows")
    window = Chunking.build(n).split(n)
    if problem == "classification":
        assert rs is not None and s is not None
        estimate = cbpe.CBPE.fit(ry, ryhat, rs, ref_chunks, (metric,)).estimate(yhat, s, window)[metric]
        estimator = "cbpe"
    else:
        inputs = features or [c for c in reference.column_names
                              if c in current.column_names and c not in {target, prediction, score}]
        estimate = dle.DLE.fit(reference, inputs, ry, ryhat, ref_chunks, (metric,), seed).estimate(
            current, yhat, window)[metric]
        estimator = "dle"
    return WindowPerformance(metric, "estimated", _finite(estimate.value[0]), _finite(estimate.lower[0]),
                             _finite(estimate.upper[0]), _finite(whole), band_lower, band_upper, n, count, estimator)


def _multiclass_window(reference: pa.Table, current: pa.Table, *, metric: str, target: str, prediction: str,
                       probabilities: dict[str, str], source: str, min_labels: int, replicates: int,
                       seed: int) -> WindowPerformance:
    """:func:`window_performance` for a multiclass classifier (macro metrics, multiclass CBPE)."""
    if metric not in cbpe_multiclass.METRICS:
        raise InvalidInput(f"{metric} is not computed for a multiclass classifier (multiclass metrics: "
                           f"{', '.join(cbpe_multiclass.METRICS)})")
    classes = sorted(probabilities)
    columns = [probabilities[c] for c in classes]
    _require(reference, "reference", [target, prediction, *columns])
    _require(current, "current", [prediction, *columns])
    label_array = np.array(classes, dtype=object)

    def outputs(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y = _labels(table, target) if target in table.column_names else np.full(table.num_rows, None, dtype=object)
        proba = (np.column_stack([_floats(table, c) for c in columns]) if table.num_rows
                 else np.zeros((0, len(columns))))
        return y, _labels(table, prediction), proba

    y, yhat, proba = outputs(current)
    ry, ryhat, rproba = outputs(reference)
    if any(v is None for v in ry):
        raise InvalidInput(f"the reference data needs a label in {target!r} on every row")
    if not np.isfinite(proba).all() or any(v is None for v in yhat):
        raise InvalidInput("the current data has missing predictions or probabilities")
    n, labelled = current.num_rows, np.array([v is not None for v in y], dtype=bool)
    count = int(labelled.sum())
    if n == 0 or reference.num_rows == 0:
        raise InvalidInput("performance needs rows in both the window and the reference")
    chunk = max(1, min(n, reference.num_rows // REFERENCE_CHUNKS))
    ref_chunks = Chunking.build(chunk).split(reference.num_rows)
    fitted = cbpe_multiclass.MulticlassCBPE.fit(ry, ryhat, rproba, classes, ref_chunks, (metric,))
    band_lower, band_upper = fitted.thresholds[metric]

    def binary(labels: np.ndarray) -> np.ndarray:
        return (labels[:, None] == label_array[None, :]).astype(np.float64)

    whole = cbpe_multiclass.realised_multiclass([metric], binary(ry), binary(ryhat), rproba, replicates=0)[metric]
    use_realised = source == "realised" or (source == "auto" and count >= max(1, min_labels))
    if use_realised:
        if count < max(1, min_labels):
            raise InvalidInput(f"realised {metric} needs at least {min_labels} labelled rows; the window has {count}")
        found = cbpe_multiclass.realised_multiclass([metric], binary(y[labelled]), binary(yhat[labelled]),
                                                    proba[labelled], replicates=replicates, seed=seed)[metric]
        return WindowPerformance(metric, "realised", _finite(found.value), found.lower, found.upper,
                                 _finite(whole.value), band_lower, band_upper, n, count, None)
    estimate = fitted.estimate(yhat, proba, Chunking.build(n).split(n))[metric]
    return WindowPerformance(metric, "estimated", _finite(estimate.value[0]), _finite(estimate.lower[0]),
                             _finite(estimate.upper[0]), _finite(whole.value), band_lower, band_upper, n, count,
                             "cbpe")
