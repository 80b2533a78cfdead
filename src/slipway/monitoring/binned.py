"""Histograms and category counts for a block of columns, and the distances computed on them.

Numeric columns are binned as Evidently bins them (``np.histogram_bin_edges(..., "sturges")``
on the pooled data, counts as ``np.histogram`` gives them), with the index arithmetic done for
all columns at once. Counts are ``(k, bins)`` matrices, padded with zeros where a column has
fewer bins; ``present`` marks the real bins.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def sturges_bins(n: np.ndarray, low: np.ndarray, high: np.ndarray, integer: np.ndarray | None = None) -> np.ndarray:
    """The number of equal bins ``np.histogram_bin_edges(x, "sturges")`` gives, per column.

    ``integer`` marks columns of an integer type: NumPy (2.1 on) widens their bins to at least 1.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        width = (high - low) / (np.log2(n) + 1.0)
        if integer is not None:
            width = np.where(integer & (width < 1.0), 1.0, width)
        bins = np.ceil((high - low) / width)
    return np.where(np.isfinite(bins) & (bins >= 1), bins, 1).astype(np.int64)


def histogram_counts(values: np.ndarray, low: np.ndarray, high: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Counts per bin of each row of ``values`` (``(k, n)``, NaN ignored), like ``np.histogram``
    with the edges ``np.linspace(low, high, bins + 1)``: left-closed bins, the last one closed."""
    k = values.shape[0]
    width = int(bins.max())
    edges = np.arange(width + 1)[None, :] * ((high - low) / bins)[:, None] + low[:, None]  # linspace's arithmetic
    edges = np.where(np.arange(width + 1)[None, :] == bins[:, None], high[:, None], edges)
    valid = ~np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        guess = np.floor((values - low[:, None]) / (high - low)[:, None] * bins[:, None])
    index = np.clip(np.where(valid, guess, 0), 0, (bins - 1)[:, None]).astype(np.int64)
    index -= (values < np.take_along_axis(edges, index, axis=1)) & (index > 0)
    index += (values >= np.take_along_axis(edges, index + 1, axis=1)) & (index < (bins - 1)[:, None])
    index += np.arange(k)[:, None] * width
    return np.bincount(index[valid], minlength=k * width).reshape(k, width).astype(np.float64)


def fill_zeros(percents: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Evidently's ``feel_zeroes``: empty bins get a small share so logarithms stay finite."""
    nonzero = np.where(present & (percents > 0), percents, np.inf).min(axis=1, keepdims=True)
    small = np.where(nonzero <= 0.0001, nonzero / 10**6, 0.0001)
    return np.where(present & (percents == 0), small, percents)


def jensen_shannon(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """``scipy.spatial.distance.jensenshannon`` (natural log) row by row."""
    p = ref / ref.sum(axis=1, keepdims=True)
    q = cur / cur.sum(axis=1, keepdims=True)
    m = (p + q) / 2.0
    js = (special.rel_entr(p, m) + special.rel_entr(q, m)).sum(axis=1) / 2.0
    return np.asarray(np.sqrt(np.maximum(js, 0.0)))


def kl_divergence(ref: np.ndarray, cur: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``scipy.stats.entropy(ref, cur)`` row by row, over the present bins."""
    p = np.where(present, ref, 0.0)
    q = np.where(present, cur, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    q = q / np.where(present, q, 0.0).sum(axis=1, keepdims=True)
    return np.asarray(np.where(present, special.rel_entr(p, q), 0.0).sum(axis=1))


def population_stability(ref: np.ndarray, cur: np.ndarray, present: np.ndarray) -> np.ndarray:
    """PSI: ``sum((ref - cur) * ln(ref / cur))`` over the present bins (shares, zeros filled)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = (ref - cur) * np.log(ref / cur)
    return np.asarray(np.where(present, terms, 0.0).sum(axis=1))


def hellinger(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Hellinger distance of two share vectors: ``sqrt(1 - sum(sqrt(ref * cur)))``."""
    overlap = np.clip(np.sqrt(ref * cur).sum(axis=1), 0.0, 1.0)
    return np.asarray(np.sqrt(1.0 - overlap))


def quantile_bins(ref_sorted: np.ndarray, values: np.ndarray, bins: int = 10) -> np.ndarray:
    """Counts of ``values`` (``(k, n)``) in bins cut at the reference's quantiles (fixed by the
    reference, so the same reference gives the same bins whatever the current window)."""
    cuts = np.nanquantile(ref_sorted, np.arange(1, bins) / bins, axis=1)  # (bins - 1, k)
    index = np.zeros(values.shape, dtype=np.int64)
    for cut in cuts:  # a loop over bin edges, each step vectorised over rows and columns
        index += values >= cut[:, None]
    k = values.shape[0]
    index += np.arange(k)[:, None] * bins
    return np.bincount(index[~np.isnan(values)], minlength=k * bins).reshape(k, bins).astype(np.float64)
