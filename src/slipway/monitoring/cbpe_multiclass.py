"""CBPE for multiclass classifiers, with NannyML's semantics (its ``classification_multiclass``).

Fitting on the labelled reference, per class (classes sorted): the one-vs-rest labels and the
class's predicted probability; an isotonic calibration of that probability when it lowers the
expected calibration error (the binary rule, :mod:`slipway.monitoring.calibration`), else none.
Estimating on a chunk: each class's probability calibrated, then every row's calibrated
probabilities divided by their sum (uniform where the sum is 0). The estimates are NannyML's:

- ``precision``, ``recall``, ``f1``: the macro average over classes of the binary expected
  confusion matrix (``TP = Σ pred·p``, ``FP = Σ pred·(1 - p)``, ``FN = Σ (1 - pred)·p``);
- ``accuracy``: the mean calibrated probability of the predicted class;
- ``roc_auc``: the mean over classes of the expected ROC AUC (rows ordered by the uncalibrated
  probability, weighted by the calibrated one).

Sampling errors: per class a variance and a fraction from the reference; a chunk of ``m`` rows
gets ``sqrt(Σ var / (m · fraction)) / classes`` (times 1.2 for ROC AUC, as NannyML), accuracy
``std / sqrt(m)``. Bands are ± 3 sampling errors clipped to [0, 1]; thresholds are mean ± 3 std
of the realised macro metric over the reference's chunks (sklearn's macro averages; NaN, and so
left out, for a chunk missing a class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slipway.core.errors import InvalidInput
from slipway.monitoring.calibration import fit_calibration, needs_calibration
from slipway.monitoring.cbpe import SIGMAS, Estimates, _expected_auc, _thresholds
from slipway.monitoring.chunks import Chunks
from slipway.monitoring.realised import Interval, _auc

METRICS = ("roc_auc", "f1", "precision", "recall", "accuracy")
AUC_ADJUSTMENT = 1.2  # NannyML: the std of class variances underestimates the AUC's error by 20 %


def _binarize(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    return (labels[:, None] == classes[None, :]).astype(np.float64)


def _auc_component(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    if np.mean(y) > 0.5:
        y, score = 1 - y, 1 - score
    order = np.argsort(score)
    ranked = y[order]
    positive_ranks = np.unique(ranked * np.arange(len(y)))[1:]
    n_pos = ranked.sum()
    ser = (positive_ranks - np.arange(len(positive_ranks))) / (len(y) - n_pos)
    return float(np.var(ser)), float(n_pos / len(y))


def _components(metric: str, y: np.ndarray, yhat: np.ndarray, proba: np.ndarray) -> list[tuple[float, float]]:
    """Per class (variance, fraction); accuracy: [(std, 1)]."""
    if metric == "accuracy":
        return [(float(np.std(np.all(y == yhat, axis=1))), 1.0)]
    out = []
    n = len(y)
    for j in range(y.shape[1]):
        t, p = y[:, j], yhat[:, j]
        tp, fp, fn = int(((t == p) & (p == 1)).sum()), int(((t != p) & (p == 1)).sum()), int(((t != p) & (p == 0)).sum())
        if metric == "roc_auc":
            out.append(_auc_component(t, proba[:, j]))
        elif metric == "f1":
            out.append((float(np.var(np.r_[np.ones(tp), np.zeros(fn + fp)])), (tp + fn + fp) / n))
        elif metric == "precision":
            out.append((float(np.var(np.r_[np.ones(tp), np.zeros(fp)])), float(p.sum()) / n))
        else:
            out.append((float(np.var(np.r_[np.ones(tp), np.zeros(fn)])), float(t.sum()) / n))
    return out


def _safe(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom != 0, top / np.where(bottom != 0, bottom, 1.0), 0.0)


def realised_macro(metric: str, y: np.ndarray, yhat: np.ndarray, proba: np.ndarray) -> float:
    """The realised metric on labelled rows (binarized ``y``/``yhat``, uncalibrated ``proba``), as
    NannyML computes it for the thresholds (sklearn's macro averages)."""
    present_true, present_pred = y.sum(axis=0) > 0, yhat.sum(axis=0) > 0
    if metric == "roc_auc":
        if not present_true.all():
            return float("nan")
        ones = np.ones((1, len(y)))
        return float(np.mean([_auc(ones, y[:, j], proba[:, j])[0] for j in range(y.shape[1])]))
    if present_true.sum() <= 1 or present_pred.sum() <= 1:
        return float("nan")
    if metric == "accuracy":
        return float(np.mean(np.all(y == yhat, axis=1)))
    tp, fp, fn = (y * yhat).sum(axis=0), ((1 - y) * yhat).sum(axis=0), (y * (1 - yhat)).sum(axis=0)
    if metric == "precision":
        return float(np.mean(_safe(tp, tp + fp)))
    if metric == "recall":
        return float(np.mean(_safe(tp, tp + fn)))
    return float(np.mean(_safe(2 * tp, 2 * tp + fp + fn)))


@dataclass
class MulticlassCBPE:
    """A multiclass CBPE estimator fitted on a labelled reference (see :meth:`fit`)."""

    classes: np.ndarray  # sorted
    order: np.ndarray  # the sorted classes' positions among the probability columns given to fit
    metrics: tuple[str, ...]
    calibrations: list[tuple[np.ndarray, np.ndarray] | None]
    components: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    thresholds: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    @classmethod
    def fit(cls, y: np.ndarray, yhat: np.ndarray, proba: np.ndarray, classes: Sequence[Any] | np.ndarray,
            chunks: Chunks, metrics: tuple[str, ...] = METRICS) -> MulticlassCBPE:
        """Fit on the reference: labels ``y``, predicted labels ``yhat``, class probabilities
        ``proba`` (rows x classes, columns in the order of ``classes``), its chunks.

        Raises:
            InvalidInput: fewer than three classes, a probability matrix of another width, an
                unknown metric, or reference labels that are not exactly the classes.
        """
        given = list(classes)
        order = np.array(sorted(range(len(given)), key=lambda i: given[i]), dtype=np.int64)
        labels = np.array([given[i] for i in order], dtype=object)
        if len(labels) < 3:
            raise InvalidInput(f"multiclass CBPE needs at least three classes, not {list(classes)}")
        if proba.ndim != 2 or proba.shape[1] != len(labels):
            raise InvalidInput(f"{proba.shape[-1]} probability columns for {len(labels)} classes")
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise InvalidInput(f"unknown multiclass metric(s) {unknown}; known: {', '.join(METRICS)}")
        proba = np.asarray(proba, dtype=np.float64)[:, order]
        if set(np.asarray(y, dtype=object).tolist()) != set(labels.tolist()):
            raise InvalidInput(f"the reference labels {sorted(set(np.asarray(y).tolist()))} are not the classes "
                               f"{labels.tolist()}")
        ys, yhats = _binarize(np.asarray(y, dtype=object), labels), _binarize(np.asarray(yhat, dtype=object), labels)
        calibrations = [fit_calibration(ys[:, j], proba[:, j]) if needs_calibration(ys[:, j], proba[:, j]) else None
                        for j in range(len(labels))]
        fitted = cls(labels, order, tuple(metrics), calibrations)
        for m in metrics:
            fitted.components[m] = _components(m, ys, yhats, proba)
            values = np.array([realised_macro(m, ys[s:e], yhats[s:e], proba[s:e])
                               for s, e in zip(chunks.starts, chunks.ends, strict=True)])
            fitted.thresholds[m] = _thresholds(values)
        return fitted

    def calibrate(self, proba: np.ndarray) -> np.ndarray:
        """Each class's probability calibrated, rows normalised to sum to 1 (uniform where 0)."""
        out = np.empty_like(proba)
        for j, calibration in enumerate(self.calibrations):
            out[:, j] = proba[:, j] if calibration is None else np.interp(proba[:, j], *calibration)
        total = out.sum(axis=1, keepdims=True)
        uniform = np.full_like(out, 1.0 / out.shape[1])
        return np.divide(out, total, out=uniform, where=total != 0)

    def estimate(self, yhat: np.ndarray, proba: np.ndarray, chunks: Chunks) -> dict[str, Estimates]:
        """Every metric's estimate on each chunk (``proba`` columns in the order given to :meth:`fit`)."""
        raw = np.asarray(proba, dtype=np.float64)[:, self.order]
        p = self.calibrate(raw)
        pred = _binarize(np.asarray(yhat, dtype=object), self.classes)
        starts, sizes = chunks.starts, chunks.sizes.astype(np.float64)
        k = len(self.classes)

        def sums(values: np.ndarray) -> np.ndarray:  # per chunk x class
            return np.add.reduceat(values, starts, axis=0) if len(starts) else np.zeros((0, k))

        tp, fp, fn = sums(pred * p), sums(pred * (1 - p)), sums((1 - pred) * p)
        values = {
            "precision": _safe(tp, tp + fp).mean(axis=1),
            "recall": _safe(tp, tp + fn).mean(axis=1),
            "f1": _safe(tp, tp + 0.5 * (fp + fn)).mean(axis=1),
            "accuracy": np.add.reduceat(np.max(pred * p, axis=1), starts) / sizes if len(starts) else np.zeros(0),
        }
        out = {}
        for m in self.metrics:
            value = values[m] if m != "roc_auc" else np.array(
                [np.mean([_expected_auc(p[s:e, j], raw[s:e, j]) for j in range(k)])
                 for s, e in zip(starts, chunks.ends, strict=True)])
            components = self.components[m]
            if m == "accuracy":
                error = components[0][0] / np.sqrt(sizes)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    variance = sum(v / (sizes * f) for v, f in components)
                error = np.sqrt(variance) / len(components) * (AUC_ADJUSTMENT if m == "roc_auc" else 1.0)
            lower, upper = self.thresholds[m]
            out[m] = Estimates(np.asarray(value, np.float64), np.asarray(error, np.float64),
                               np.maximum(0.0, value - SIGMAS * error), np.minimum(1.0, value + SIGMAS * error),
                               lower, upper)
        return out


def realised_multiclass(metrics: list[str], y: np.ndarray, yhat: np.ndarray, proba: np.ndarray, *,
                        replicates: int = 200, confidence: float = 0.95, seed: int = 0) -> dict[str, Interval]:
    """Realised macro metrics of one chunk's labelled rows (binarized ``y``/``yhat`` and the
    class probabilities, columns in the sorted classes' order) with a Poisson bootstrap
    percentile interval, written for a matrix of row weights as :func:`slipway.monitoring.realised.realised`.
    NaN (no value) where NannyML's is: a chunk missing a class (ROC AUC), or with one label or one
    predicted class only (the others)."""
    n, k = y.shape
    rng = np.random.default_rng(seed)
    w = rng.poisson(1.0, (replicates + 1, n)).astype(np.float64)
    w[0] = 1.0
    total = w.sum(axis=1)
    tp, fp, fn = w @ (y * yhat), w @ ((1 - y) * yhat), w @ (y * (1 - yhat))  # replicates x classes
    out: dict[str, Interval] = {}
    tail = (1.0 - confidence) / 2.0 * 100.0
    for m in metrics:
        if m == "roc_auc":
            values = np.mean([_auc(w, y[:, j], proba[:, j]) for j in range(k)], axis=0)
            undefined = not (y.sum(axis=0) > 0).all()
        else:
            undefined = (y.sum(axis=0) > 0).sum() <= 1 or (yhat.sum(axis=0) > 0).sum() <= 1
            with np.errstate(divide="ignore", invalid="ignore"):
                if m == "accuracy":
                    values = (w @ np.all(y == yhat, axis=1).astype(np.float64)) / total
                elif m == "precision":
                    values = _safe(tp, tp + fp).mean(axis=1)
                elif m == "recall":
                    values = _safe(tp, tp + fn).mean(axis=1)
                else:
                    values = _safe(2 * tp, 2 * tp + fp + fn).mean(axis=1)
        if undefined:
            out[m] = Interval(float("nan"), None, None)
            continue
        boot = values[1:][np.isfinite(values[1:])]
        lower, upper = np.percentile(boot, [tail, 100.0 - tail]).tolist() if len(boot) else (None, None)
        out[m] = Interval(float(values[0]), lower, upper)
    return out
