"""CBPE: confidence-based performance estimation of a binary classifier without labels.

NannyML's method and semantics (``nannyml.CBPE``, binary classification), reimplemented on NumPy:

- **Calibration on the reference.** The scores are calibrated with isotonic regression fitted on
  the reference when that lowers the expected calibration error in 10 stratified shuffle splits
  (NannyML's ``needs_calibration``: same splits, same 10 equal-count bins); not when the reference
  has one class or its ROC AUC exceeds 0.999.
- **Estimates.** With ``p`` the calibrated probability of the positive class and ``ŷ`` the
  prediction, the expected confusion matrix of a chunk is ``TP = Σ p·ŷ``, ``FP = Σ (1-p)·ŷ``,
  ``FN = Σ p·(1-ŷ)``, ``TN = Σ (1-p)·(1-ŷ)``; accuracy, precision, recall and F1 follow. ROC AUC
  is the area under the expected ROC curve (rows ordered by the uncalibrated score, the expected
  true and false positive counts accumulated).
- **Bands.** Each estimate carries NannyML's sampling error (the reference's per-row standard
  deviation over ``sqrt(rows x the reference's relevant fraction)``; AUC through its Mann-Whitney
  form) and the band ``estimate ± 3 sampling errors``, clipped to [0, 1].
- **Thresholds.** The realised metric on each reference chunk; ``mean ± 3 std`` of those values
  (population std), clipped to [0, 1]. An estimate outside them is an alert.

Every per-chunk sum is one ``np.add.reduceat`` over the chunk boundaries (no loop over rows);
ROC AUC sorts each chunk once; the reference's scores are sorted once for the calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from slipway.monitoring.calibration import calibration
from slipway.monitoring.chunks import Chunks
from slipway.monitoring.realised import _auc, _ratio

METRICS = ("roc_auc", "f1", "precision", "recall", "accuracy")
SIGMAS = 3.0


@dataclass(frozen=True)
class Estimates:
    """One metric's estimate per chunk: value, sampling error, band, thresholds, alerts."""

    value: np.ndarray
    sampling_error: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    lower_threshold: float | None
    upper_threshold: float | None

    @property
    def alerts(self) -> np.ndarray:
        low = -np.inf if self.lower_threshold is None else self.lower_threshold
        high = np.inf if self.upper_threshold is None else self.upper_threshold
        return (self.value < low) | (self.value > high)


@dataclass
class CBPE:
    """A CBPE estimator fitted on a labelled reference (see :meth:`fit`)."""

    metrics: tuple[str, ...]
    calibration: tuple[np.ndarray, np.ndarray] | None  # isotonic knots (x, y), or None
    components: dict[str, tuple[float, float]] = field(default_factory=dict)  # metric -> (std, fraction)
    thresholds: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    @classmethod
    def fit(cls, y: np.ndarray, yhat: np.ndarray, score: np.ndarray, chunks: Chunks,
            metrics: tuple[str, ...] = METRICS) -> CBPE:
        """Fit on the reference: labels ``y``, predictions ``yhat`` (0/1), scores, its chunks."""
        components = {m: _components(m, y, yhat, score) for m in metrics}
        thresholds = {m: _thresholds(chunk_values(m, y, yhat, score, chunks)) for m in metrics}
        return cls(tuple(metrics), calibration(y, score), components, thresholds)

    def calibrate(self, score: np.ndarray) -> np.ndarray:
        if self.calibration is None:
            return score
        x, fitted = self.calibration
        return np.interp(score, x, fitted)  # isotonic regression's predict, clipped out of bounds

    def _calibrate_chunks(self, score: np.ndarray, chunks: Chunks) -> tuple[np.ndarray, list[np.ndarray]]:
        """The calibrated scores, and each chunk's in descending score order: every chunk is
        sorted once, which both ROC AUC needs and makes the interpolation a forward walk."""
        p, descending = np.empty_like(score), []
        for s, e in zip(chunks.starts.tolist(), chunks.ends.tolist(), strict=True):
            order = np.argsort(score[s:e])
            ascending = self.calibrate(score[s:e][order])
            p[s:e][order] = ascending
            descending.append(ascending[::-1])
        return p, descending

    def estimate(self, yhat: np.ndarray, score: np.ndarray, chunks: Chunks) -> dict[str, Estimates]:
        """Every metric's estimate on each chunk of the (unlabelled) data."""
        p, descending = self._calibrate_chunks(score, chunks)
        starts, sizes = chunks.starts, chunks.sizes.astype(np.float64)
        tp, fp, fn, tn = (np.add.reduceat(v, starts) if len(starts) else np.zeros(0) for v in (
            p * yhat, (1 - p) * yhat, p * (1 - yhat), (1 - p) * (1 - yhat)))
        with np.errstate(divide="ignore", invalid="ignore"):
            values = {
                "accuracy": (tp + tn) / sizes,
                "precision": np.where(tp + fp != 0, tp / (tp + fp), 0.0),
                "recall": np.where(tp + fn != 0, tp / (tp + fn), 0.0),
                "f1": np.where(tp + 0.5 * (fp + fn) != 0, tp / (tp + 0.5 * (fp + fn)), 0.0),
            }
        out = {}
        for m in self.metrics:
            value = values[m] if m != "roc_auc" else np.array([_expected_auc_sorted(d) for d in descending])
            std, fraction = self.components[m]
            with np.errstate(divide="ignore", invalid="ignore"):
                error = std / np.sqrt(sizes * fraction)
            lower, upper = self.thresholds[m]
            out[m] = Estimates(value, error, np.maximum(0.0, value - SIGMAS * error),
                               np.minimum(1.0, value + SIGMAS * error), lower, upper)
        return out


def _expected_auc(p: np.ndarray, score: np.ndarray) -> float:
    return _expected_auc_sorted(p[np.argsort(score)[::-1]])


def _expected_auc_sorted(p: np.ndarray) -> float:
    """The area under the expected ROC curve of rows in descending score order (their calibrated
    probabilities ``p``)."""
    tps = np.asarray(np.round(np.r_[0.0, np.cumsum(p)], 5), np.float64)
    fps = np.asarray(np.round(np.r_[0.0, 1.0 + np.arange(len(p)) - np.cumsum(p)], 5), np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.trapezoid(tps / tps[-1], fps / fps[-1]))


def chunk_values(metric: str, y: np.ndarray, yhat: np.ndarray, score: np.ndarray, chunks: Chunks) -> np.ndarray:
    """The realised ``metric`` on each chunk of labelled rows: the value
    :func:`slipway.monitoring.realised.realised` gives (NaN where undefined), the confusion
    counts of every chunk summed in one pass."""
    if metric == "roc_auc":
        return np.array([_auc(np.ones((1, e - s)), y[s:e], score[s:e])[0]
                         for s, e in zip(chunks.starts.tolist(), chunks.ends.tolist(), strict=True)])
    if not len(chunks):
        return np.zeros(0)
    tp, fp, fn = (np.add.reduceat(v, chunks.starts) for v in (y * yhat, (1 - y) * yhat, y * (1 - yhat)))
    if metric == "accuracy":
        total = chunks.sizes.astype(np.float64)
        return _ratio(total - fp - fn, total)
    if metric == "precision":
        return _ratio(tp, tp + fp)
    if metric == "recall":
        return _ratio(tp, tp + fn)
    return _ratio(tp, tp + 0.5 * (fp + fn))


def _thresholds(values: np.ndarray) -> tuple[float | None, float | None]:
    if not np.isfinite(values).any():
        return None, None
    mean, std = float(np.nanmean(values)), float(np.nanstd(values))
    return max(0.0, mean - SIGMAS * std), min(1.0, mean + SIGMAS * std)


def _components(metric: str, y: np.ndarray, yhat: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """NannyML's sampling-error components: a per-row std and the share of rows it applies to."""
    n = len(y)
    tp, fp, fn = (y == 1) & (yhat == 1), (y == 0) & (yhat == 1), (y == 1) & (yhat == 0)
    if metric == "accuracy":
        return float(np.std(y == yhat)), 1.0
    if metric == "precision":
        return float(np.std(np.r_[np.ones(tp.sum()), np.zeros(fp.sum())])), float(yhat.sum() / n)
    if metric == "recall":
        return float(np.std(np.r_[np.ones(tp.sum()), np.zeros(fn.sum())])), float(y.sum() / n)
    if metric == "f1":
        relevant = int(tp.sum() + fp.sum() + fn.sum())
        if relevant == 0:
            return float("nan"), 0.0
        factor = relevant / ((fn.sum() + fp.sum()) * 0.5 + tp.sum())
        return float(np.std(np.r_[np.ones(tp.sum()), np.zeros(relevant - tp.sum())] * factor)), relevant / n
    if np.mean(y) > 0.5:  # roc_auc: as NannyML, on the minority class
        y, score = 1 - y, 1 - score
    ranked = y[np.argsort(score)]
    positive_ranks = np.unique(ranked * np.arange(n))[1:]
    n_pos = ranked.sum()
    return float(np.std((positive_ranks - np.arange(len(positive_ranks))) / (n - n_pos))), float(n_pos / n)
