"""Realised performance of a chunk once its labels are known, with bootstrap confidence intervals.

Every metric is written for a matrix of row weights ``W`` (replicates x rows): row 0 is all ones
(the point estimate), the others are Poisson(1) bootstrap weights (the Poisson bootstrap of Hanley
and MacGibbon, which approximates the multinomial resampling of the classic bootstrap and needs no
index gathering). So a chunk's metric and its ``replicates`` bootstrap values are a few matrix
products over the rows, with no loop over rows; the interval is the percentile interval of the
bootstrap values. Replicates are computed in blocks of at most ``BLOCK_CELLS`` weights.

Classification (binary, labels 0/1, the positive class's score in ``score``): ``accuracy``,
``precision``, ``recall``, ``f1``, ``roc_auc`` (ties count half, as scikit-learn), ``log_loss``
(scores clipped to [1e-15, 1 - 1e-15]). Regression: ``mae``, ``rmse``, ``mape`` (``|y|`` floored
at machine epsilon, as scikit-learn), ``r2``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CLASSIFICATION = ("roc_auc", "f1", "precision", "recall", "accuracy", "log_loss")
REGRESSION = ("mae", "rmse", "mape", "r2")
BLOCK_CELLS = 4_000_000
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Interval:
    """A realised value with its bootstrap interval (``lower``/``upper`` are None without replicates)."""

    value: float
    lower: float | None
    upper: float | None


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)


def _confusion(w: np.ndarray, y: np.ndarray, yhat: np.ndarray) -> tuple[np.ndarray, ...]:
    tp, fp, fn = w @ (y * yhat), w @ ((1 - y) * yhat), w @ (y * (1 - yhat))
    return tp, fp, fn, w.sum(axis=1)


def _auc(w: np.ndarray, y: np.ndarray, score: np.ndarray) -> np.ndarray:
    order = np.argsort(score, kind="stable")
    s, y, w = score[order], y[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # groups of tied scores
    pos = np.add.reduceat(w * y, starts, axis=1)
    neg = np.add.reduceat(w * (1 - y), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    return _ratio((pos * (below + 0.5 * neg)).sum(axis=1), pos.sum(axis=1) * neg.sum(axis=1))


def _classification(name: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    def metric(w: np.ndarray, y: np.ndarray, yhat: np.ndarray, score: np.ndarray) -> np.ndarray:
        if name == "roc_auc":
            return _auc(w, y, score)
        if name == "log_loss":
            p = np.clip(score, 1e-15, 1 - 1e-15)
            return _ratio(w @ -(y * np.log(p) + (1 - y) * np.log1p(-p)), w.sum(axis=1))
        tp, fp, fn, total = _confusion(w, y, yhat)
        if name == "accuracy":
            return _ratio(total - fp - fn, total)
        if name == "precision":
            return _ratio(tp, tp + fp)
        if name == "recall":
            return _ratio(tp, tp + fn)
        return _ratio(tp, tp + 0.5 * (fp + fn))
    return metric


def _regression(name: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    def metric(w: np.ndarray, y: np.ndarray, yhat: np.ndarray, _score: np.ndarray) -> np.ndarray:
        total, error = w.sum(axis=1), yhat - y
        if name == "mae":
            return _ratio(w @ np.abs(error), total)
        if name == "rmse":
            return np.sqrt(_ratio(w @ error**2, total))
        if name == "mape":
            return _ratio(w @ (np.abs(error) / np.maximum(np.abs(y), _EPS)), total)
        mean = _ratio(w @ y, total)
        return 1.0 - _ratio(w @ error**2, w @ y**2 - total * mean**2)
    return metric


def realised(metrics: list[str], y: np.ndarray, yhat: np.ndarray, score: np.ndarray | None, *,
             replicates: int = 200, confidence: float = 0.95, seed: int = 0) -> dict[str, Interval]:
    """Each metric on one chunk's labelled rows, with a ``confidence`` percentile interval.

    Args:
        y, yhat: labels and predictions (0/1 for classification), float arrays of one length.
        score: the positive class's score (needed by ``roc_auc`` and ``log_loss``).
        replicates: bootstrap replicates (0: no interval).
    """
    score_ = np.zeros_like(y) if score is None else score
    functions = {m: (_classification(m) if m in CLASSIFICATION else _regression(m)) for m in metrics}
    n = len(y)
    rng = np.random.default_rng(seed)
    values: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    total = replicates + 1
    step = max(1, BLOCK_CELLS // max(n, 1))
    for start in range(0, total, step):
        count = min(step, total - start)
        w = rng.poisson(1.0, (count, n)).astype(np.float64)
        if start == 0:
            w[0] = 1.0
        for m, function in functions.items():
            values[m].append(function(w, y, yhat, score_))
    out: dict[str, Interval] = {}
    tail = (1.0 - confidence) / 2.0 * 100.0
    for m in metrics:
        both = np.concatenate(values[m])
        boot = both[1:][np.isfinite(both[1:])]
        lower, upper = (np.percentile(boot, [tail, 100.0 - tail]).tolist() if len(boot) else (None, None))
        out[m] = Interval(float(both[0]), lower, upper)
    return out
