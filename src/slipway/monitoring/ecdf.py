"""Two-sample statistics from one sort of the pooled data, for a block of columns at once.

Columns are the second axis of a 2-D float array; missing values are NaN (they sort last and
carry no weight), so columns with different numbers of valid values share one pass. From the
pooled order come the K-S statistic, the Wasserstein and energy distances (as SciPy defines
them: integrals of the difference of the two empirical CDFs) and the number of distinct values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

MAX_EXACT_KS = 10_000  # SciPy's ks_2samp(method="auto") is exact up to this sample size


@dataclass
class PooledStats:
    """Per-column results of one pooled sort (arrays of length ``k``)."""

    n_ref: np.ndarray
    n_cur: np.ndarray
    distinct: np.ndarray
    ks_d: np.ndarray
    wasserstein: np.ndarray
    energy: np.ndarray


def sort_reference(ref: np.ndarray) -> np.ndarray:
    """The reference block sorted per column (NaN last): what a cached reference stores."""
    return np.sort(ref, axis=0)


def pooled_stats(ref_sorted: np.ndarray, cur: np.ndarray) -> PooledStats:
    """Statistics of every column of ``cur`` against the same column of ``ref_sorted``.

    Args:
        ref_sorted: reference values, ``(n_ref, k)``, each column sorted ascending, NaN last.
        cur: current values, ``(n_cur, k)``, any order, NaN for missing.
    """
    n1 = ref_sorted.shape[0]
    cur_sorted = np.sort(cur, axis=0)
    pooled = np.concatenate([ref_sorted, cur_sorted])
    # Two sorted runs: the stable sort (timsort) merges them in linear time.
    order = np.argsort(pooled, axis=0, kind="stable")
    values = np.take_along_axis(pooled, order, axis=0)
    del pooled
    valid = ~np.isnan(values)
    from_ref = (order < n1) & valid
    del order
    n_ref = from_ref.sum(axis=0)
    n_cur = valid.sum(axis=0) - n_ref
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf_gap = np.cumsum(from_ref, axis=0) / n_ref - np.cumsum(valid & ~from_ref, axis=0) / n_cur
    del from_ref
    steps = np.diff(values, axis=0)
    steps[~np.isfinite(steps)] = 0.0
    # The K-S statistic is taken where the CDFs are evaluated: after the last of equal values.
    last_of_ties = np.zeros_like(valid)
    last_of_ties[:-1] = steps != 0
    last_of_ties[-1] = valid[-1]
    last_of_ties[:-1] |= valid[:-1] & ~valid[1:]
    ks_d = np.where(last_of_ties, np.abs(cdf_gap), 0.0).max(axis=0)
    distinct = last_of_ties.sum(axis=0)
    gaps = cdf_gap[:-1]
    gaps = np.where(np.isfinite(gaps), gaps, 0.0)
    wasserstein = (np.abs(gaps) * steps).sum(axis=0)
    energy = np.sqrt(2.0) * np.sqrt((gaps * gaps * steps).sum(axis=0))
    return PooledStats(n_ref, n_cur, distinct, ks_d, wasserstein, energy)


def ks_pvalues(ks_d: np.ndarray, n_ref: np.ndarray, n_cur: np.ndarray,
               ref_sorted: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Two-sided K-S p-values exactly as ``scipy.stats.ks_2samp(method="auto")`` gives them.

    Large samples use Smirnov's distribution vectorised over columns; small ones (where SciPy
    is exact) call SciPy per column, which is cheap at those sizes.
    """
    big = np.maximum(n_ref, n_cur)
    m, n = np.maximum(n_ref, n_cur).astype(float), np.minimum(n_ref, n_cur).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        pvalues = np.clip(stats.kstwo.sf(ks_d, np.round(m * n / (m + n))), 0.0, 1.0)
    for j in np.flatnonzero(big <= MAX_EXACT_KS):
        a, b = ref_sorted[:, j], cur[:, j]
        pvalues[j] = stats.ks_2samp(a[~np.isnan(a)], b[~np.isnan(b)]).pvalue
    return np.asarray(pvalues, dtype=float)
