"""``performance``: realised performance where labels exist, estimated (CBPE, DLE) where they do not.

The current window is split into chunks (:mod:`slipway.monitoring.chunks`); on each chunk every
metric is computed on the labelled rows (:mod:`slipway.monitoring.realised`, with a bootstrap
interval) and estimated from the model's outputs on all rows (:mod:`slipway.monitoring.cbpe` for
binary classification, :mod:`slipway.monitoring.dle` for regression), the estimator fitted on the
labelled reference. Thresholds come from the reference's chunks, as NannyML's.

Example:
    >>> report = performance(reference, current, target="failure", prediction="output", score="score",
    ...                      chunk_size=500)
    >>> [(c.chunk, c.estimated, c.realised, c.alert) for c in report.metric("roc_auc")]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.core.errors import InvalidInput
from slipway.monitoring import cbpe, dle
from slipway.monitoring.cbpe import Estimates
from slipway.monitoring.chunks import Chunking, Chunks
from slipway.monitoring.performance_records import MetricChunk, PerformanceReport
from slipway.monitoring.realised import CLASSIFICATION, REGRESSION, realised

PROBLEMS = ("classification", "regression")
_UNIT_INTERVAL = {"roc_auc", "f1", "precision", "recall", "accuracy"}


def performance(reference: pa.Table | None, current: pa.Table, *, target: str = "target",
                prediction: str = "prediction", score: str | None = "score", problem: str | None = None,
                features: list[str] | None = None, timestamp: str | None = None, chunk_size: int | None = None,
                chunk_number: int | None = None, chunk_period: str | None = None, metrics: list[str] | None = None,
                estimate: bool = True, replicates: int = 200, confidence: float = 0.95,
                seed: int = 0, probabilities: dict[str, str] | None = None) -> PerformanceReport:
    """Realised and estimated performance of a model on ``current``, chunk by chunk.

    Args:
        reference: labelled data the model was validated on (``target``, ``prediction``, ``score``
            or the features); fits the estimator and the thresholds. None: realised only, no thresholds.
        current: the monitored rows; ``target`` may be missing or partly null (labels not yet in).
        score: the positive class's probability (binary classification; CBPE needs it).
        problem: ``classification`` (binary, labels 0/1) or ``regression``; by default
            classification when ``score`` is a column, else regression.
        features: the model inputs DLE learns the loss from (default: every other column).
        timestamp: orders the rows and is needed for ``chunk_period``.
        estimate: False to compute realised metrics only.
        replicates: bootstrap replicates of the realised intervals (0: none).
        probabilities: a multiclass classifier's class probability columns, by class label
            (``{"alone": "p_alone", ...}``, three classes or more): multiclass CBPE
            (:mod:`slipway.monitoring.cbpe_multiclass`) and macro-averaged realised metrics;
            ``target`` and ``prediction`` hold class labels, ``score`` is unused.

    Raises:
        InvalidInput: a missing column, an unknown metric, labels that are not binary for
            classification, or a reference without labels when estimating.
    """
    chunking = Chunking.build(chunk_size, chunk_number, chunk_period)
    if reference is None and target not in current.column_names:  # a mistyped label: a report of empty rows
        raise InvalidInput(f"the current data has no label column {target!r} and no reference was given to "
                           f"estimate from, so there is nothing to report; it has {current.column_names}")
    if probabilities:
        return _multiclass(reference, current, target=target, prediction=prediction, probabilities=probabilities,
                           timestamp=timestamp, chunking=chunking, metrics=metrics, estimate=estimate,
                           replicates=replicates, confidence=confidence, seed=seed)
    problem = problem or ("classification" if score and score in current.column_names else "regression")
    if problem not in PROBLEMS:
        raise InvalidInput(f"problem must be one of {', '.join(PROBLEMS)}, not {problem!r}")
    known = CLASSIFICATION if problem == "classification" else REGRESSION
    metrics = list(metrics or known)
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise InvalidInput(f"unknown {problem} metric(s) {unknown}; known: {', '.join(known)}")
    if not 0 < confidence < 1:
        raise InvalidInput(f"confidence must lie between 0 and 1, not {confidence!r}")
    needs_score = problem == "classification" and ({"roc_auc", "log_loss"} & set(metrics) or estimate)
    current = _ordered(current, timestamp)
    y, yhat, s = _outputs(current, "current", target, prediction, score if needs_score else None, problem,
                          labels_required=False)
    chunks = chunking.split(current.num_rows, _timestamps(current, timestamp, chunking))
    ref_rows, estimator, estimates, calibrated = 0, None, {}, None
    thresholds: dict[str, tuple[float | None, float | None]] = {}
    if reference is not None:
        reference = _ordered(reference, timestamp if timestamp in reference.column_names else None)
        ry, ryhat, rs = _outputs(reference, "reference", target, prediction, score if needs_score else None, problem,
                                 labels_required=True)
        ref_rows = reference.num_rows
        ref_chunks = chunking.for_reference(ref_rows, chunks, _timestamps(reference, timestamp, chunking, False))
        if estimate and problem == "classification":
            assert rs is not None and s is not None
            names = tuple(m for m in cbpe.METRICS if m in metrics)
            fitted = cbpe.CBPE.fit(ry, ryhat, rs, ref_chunks, names)
            estimator, calibrated, estimates = "cbpe", fitted.calibration is not None, fitted.estimate(yhat, s, chunks)
            thresholds.update(fitted.thresholds)
        elif estimate:
            inputs = features or [c for c in reference.column_names if c not in {target, prediction, score, timestamp}]
            _require(current, "current", inputs)
            names = tuple(m for m in dle.METRICS if m in metrics)
            fitted_dle = dle.DLE.fit(reference, inputs, ry, ryhat, ref_chunks, names, seed)
            estimator, estimates = "dle", fitted_dle.estimate(current, yhat, chunks)
            thresholds.update(fitted_dle.thresholds)
        for m in metrics:  # the metrics no estimator covers (log loss, R², or all when not estimating)
            if m not in thresholds:
                thresholds[m] = _thresholds(m, ry, ryhat, rs, ref_chunks)
    rows = _chunk_rows(metrics, chunks, y, yhat, s, estimates, thresholds, replicates, confidence, seed)
    interval = (f"Poisson bootstrap percentile interval, {replicates} replicates, {confidence:.0%}" if replicates
                else "none")
    return PerformanceReport(problem, estimator, metrics, rows, current.num_rows, int(np.isfinite(y).sum()),
                             ref_rows, {"size": chunking.size, "number": chunking.number if chunking.size is None
                                        and chunking.period is None else None, "period": chunking.period},
                             interval, calibrated)


def _labels(table: pa.Table, column: str) -> np.ndarray:
    """Class labels as strings (None where missing)."""
    values = table.column(column)
    if pa.types.is_floating(values.type):  # 1.0 and 1 are one class
        integral = pc.all(pc.equal(pc.floor(pc.drop_null(values)), pc.drop_null(values))).as_py()
        values = values.cast(pa.int64()) if integral in (True, None) else values
    return np.array(values.cast(pa.string()).to_pylist(), dtype=object)


def _multiclass(reference: pa.Table | None, current: pa.Table, *, target: str, prediction: str,
                probabilities: dict[str, str], timestamp: str | None, chunking: Chunking,
                metrics: list[str] | None, estimate: bool, replicates: int, confidence: float,
                seed: int) -> PerformanceReport:
    from slipway.monitoring import cbpe_multiclass as mc

    by_label = {str(k): v for k, v in probabilities.items()}
    classes = sorted(by_label)
    columns = [by_label[c] for c in classes]
    if len(classes) < 3:
        raise InvalidInput(f"multiclass performance needs three classes or more, not {classes}; "
                           "a binary classifier gives its positive class's probability as score")
    metrics = list(metrics or mc.METRICS)
    unknown = [m for m in metrics if m not in mc.METRICS]
    if unknown:
        raise InvalidInput(f"unknown multiclass metric(s) {unknown}; known: {', '.join(mc.METRICS)}")
    current = _ordered(current, timestamp)
    _require(current, "current", [prediction, *columns])
    label_array = np.array(classes, dtype=object)

    def outputs(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y = _labels(table, target) if target in table.column_names else np.full(table.num_rows, None, dtype=object)
        proba = np.column_stack([_floats(table, c) for c in columns]) if table.num_rows else np.zeros((0, len(columns)))
        return y, _labels(table, prediction), proba

    y, yhat, proba = outputs(current)
    if not np.isfinite(proba).all() or any(v is None for v in yhat):
        raise InvalidInput("the current data has missing predictions or probabilities")
    chunks = chunking.split(current.num_rows, _timestamps(current, timestamp, chunking))
    estimates, thresholds, ref_rows, estimator = {}, {}, 0, None
    if reference is not None:
        reference = _ordered(reference, timestamp if timestamp in reference.column_names else None)
        _require(reference, "reference", [target, prediction, *columns])
        ry, ryhat, rproba = outputs(reference)
        if any(v is None for v in ry):
            raise InvalidInput(f"the reference data needs a label in {target!r} on every row")
        ref_rows = reference.num_rows
        ref_chunks = chunking.for_reference(ref_rows, chunks, _timestamps(reference, timestamp, chunking, False))
        fitted = mc.MulticlassCBPE.fit(ry, ryhat, rproba, classes, ref_chunks, tuple(metrics))
        thresholds = fitted.thresholds
        if estimate:
            estimator, estimates = "cbpe", fitted.estimate(yhat, proba, chunks)
    ys = (y[:, None] == label_array[None, :]).astype(np.float64)
    yhats = (yhat[:, None] == label_array[None, :]).astype(np.float64)
    labelled = np.array([v is not None for v in y])
    rows: list[MetricChunk] = []
    for i, (start, end, key) in enumerate(zip(chunks.starts.tolist(), chunks.ends.tolist(), chunks.keys, strict=True)):
        mask = labelled[start:end]
        n = int(mask.sum())
        found = mc.realised_multiclass(metrics, ys[start:end][mask], yhats[start:end][mask], proba[start:end][mask],
                                       replicates=replicates, confidence=confidence, seed=seed + i) if n else {}
        rows.extend(_metric_rows(metrics, key, start, end, n, i, found, estimates, thresholds))
    interval = (f"Poisson bootstrap percentile interval, {replicates} replicates, {confidence:.0%}" if replicates
                else "none")
    return PerformanceReport("multiclass", estimator, metrics, rows, current.num_rows, int(labelled.sum()), ref_rows,
                             {"size": chunking.size, "number": chunking.number if chunking.size is None
                              and chunking.period is None else None, "period": chunking.period}, interval, None)


def _metric_rows(metrics: list[str], key: Any, start: int, end: int, labelled: int, i: int, found: dict[str, Any],
                 estimates: dict[str, Estimates], thresholds: dict[str, tuple[float | None, float | None]]
                 ) -> list[MetricChunk]:
    """One chunk's row per metric: its realised value (when labels were found), the estimate of
    chunk ``i`` with its band, and the metric's thresholds."""
    rows = []
    for m in metrics:
        row = MetricChunk(m, key, start, end, end - start, labelled)
        if m in found:
            row.realised, row.realised_lower, row.realised_upper = (
                _number(found[m].value), found[m].lower, found[m].upper)
        if m in estimates:
            e = estimates[m]
            row.estimated, row.sampling_error = _number(e.value[i]), _number(e.sampling_error[i])
            row.lower_band, row.upper_band = _number(e.lower[i]), _number(e.upper[i])
        row.lower_threshold, row.upper_threshold = thresholds.get(m, (None, None))
        rows.append(row)
    return rows


def _chunk_rows(metrics: list[str], chunks: Chunks, y: np.ndarray, yhat: np.ndarray, s: np.ndarray | None,
                estimates: dict[str, Estimates], thresholds: dict[str, tuple[float | None, float | None]],
                replicates: int, confidence: float, seed: int) -> list[MetricChunk]:
    out: list[MetricChunk] = []
    for i, (start, end, key) in enumerate(zip(chunks.starts.tolist(), chunks.ends.tolist(), chunks.keys, strict=True)):
        labelled = np.isfinite(y[start:end])
        n = int(labelled.sum())
        found = realised(metrics, y[start:end][labelled], yhat[start:end][labelled],
                         None if s is None else s[start:end][labelled], replicates=replicates,
                         confidence=confidence, seed=seed + i) if n else {}
        out.extend(_metric_rows(metrics, key, start, end, n, i, found, estimates, thresholds))
    return out


def _thresholds(metric: str, y: np.ndarray, yhat: np.ndarray, s: np.ndarray | None,
                chunks: Chunks) -> tuple[float | None, float | None]:
    values = np.array([realised([metric], y[a:b], yhat[a:b], None if s is None else s[a:b], replicates=0)[metric].value
                       for a, b in zip(chunks.starts, chunks.ends, strict=True)])
    if not np.isfinite(values).any():
        return None, None
    mean, std = float(np.nanmean(values)), float(np.nanstd(values))
    lower, upper = mean - cbpe.SIGMAS * std, mean + cbpe.SIGMAS * std
    if metric in _UNIT_INTERVAL or metric in ("mae", "rmse", "mape", "log_loss"):
        lower = max(0.0, lower)
    if metric in _UNIT_INTERVAL or metric == "r2":
        upper = min(1.0, upper)
    return lower, upper


def _number(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _require(table: pa.Table, what: str, columns: list[str]) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InvalidInput(f"the {what} data has no column(s) {missing}; it has {table.column_names}")


def _ordered(table: pa.Table, timestamp: str | None) -> pa.Table:
    if timestamp is None:
        return table
    _require(table, "current", [timestamp])
    return table.take(pc.sort_indices(table, [(timestamp, "ascending")]))


def _timestamps(table: pa.Table, column: str | None, chunking: Chunking, required: bool = True) -> np.ndarray | None:
    if chunking.period is None or column is None or column not in table.column_names:
        if chunking.period is not None and required:
            raise InvalidInput(f"chunk_period={chunking.period!r} needs timestamp=COLUMN naming a time column")
        return None
    values = table.column(column)
    if pa.types.is_timestamp(values.type):
        return values.cast(pa.timestamp("ms")).cast(pa.int64()).to_numpy(zero_copy_only=False)
    return values.cast(pa.int64()).to_numpy(zero_copy_only=False)


def _floats(table: pa.Table, column: str) -> np.ndarray:
    values = table.column(column)
    if pa.types.is_boolean(values.type):
        values = values.cast(pa.int8())
    try:
        return values.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise InvalidInput(f"column {column!r} must be numeric (0/1 labels, predictions, scores), "
                           f"not {values.type}") from err


def _outputs(table: pa.Table, what: str, target: str, prediction: str, score: str | None, problem: str,
             labels_required: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Labels (NaN where missing), predictions and scores as float arrays, checked."""
    _require(table, what, [prediction] + ([score] if score else []) + ([target] if labels_required else []))
    y = _floats(table, target) if target in table.column_names else np.full(table.num_rows, np.nan)
    yhat = _floats(table, prediction)
    s = _floats(table, score) if score else None
    if labels_required and not np.isfinite(y).all():
        raise InvalidInput(f"the {what} data needs a label in {target!r} on every row")
    if not np.isfinite(yhat).all() or (s is not None and not np.isfinite(s).all()):
        raise InvalidInput(f"the {what} data has missing predictions or scores")
    if problem == "classification":
        labels = y[np.isfinite(y)]
        if not (np.isin(labels, (0.0, 1.0)).all() and np.isin(yhat, (0.0, 1.0)).all()):
            raise InvalidInput(f"binary classification needs 0/1 labels and predictions in the {what} data "
                               f"({target!r}, {prediction!r})")
        if s is not None and ((s < 0) | (s > 1)).any():
            raise InvalidInput(f"scores in {score!r} must be probabilities in [0, 1]")
    return y, yhat, s
