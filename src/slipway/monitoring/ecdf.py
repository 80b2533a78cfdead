"""Two-sample statistics from one merge of the sorted data, for a block of columns at once.

A block is a 2-D float array with one column of data per row (``(k, n)``, so every column is
contiguous in memory); missing values are NaN (they sort last and carry no weight), so columns
with different numbers of valid values share one pass. From the merged order come the K-S
statistic, the Wasserstein and energy distances (as SciPy defines them: integrals of the
difference of the two empirical CDFs) and the number of distinct values.
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


def pooled_stats(ref_sorted: np.ndarray, cur: np.ndarray) -> PooledStats:
    """Statistics of every column (row) of ``cur`` against the same row of ``ref_sorted``.

    Args:
        ref_sorted: reference values, ``(k, n_ref)``, each row sorted ascending, NaN last.
        cur: current values, ``(k, n_cur)``, any order, NaN for missing.
    """
    n1 = ref_sorted.shape[1]
    pooled = np.concatenate([ref_sorted, np.sort(cur, axis=1)], axis=1)
    # Two sorted runs: the stable sort (timsort) merges them in linear time.
    order = np.argsort(pooled, axis=1, kind="stable")
    values = np.take_along_axis(pooled, order, axis=1)
    del pooled
    valid = ~np.isnan(values)
    from_ref = order < n1
    del order
    from_ref &= valid
    n_ref = from_ref.sum(axis=1)
    n_cur = valid.sum(axis=1) - n_ref
    seen_ref = np.cumsum(from_ref, axis=1, dtype=np.int32)
    seen_all = np.cumsum(valid, axis=1, dtype=np.int32)
    del from_ref
    seen_all -= seen_ref  # now: current values seen so far
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf_gap = seen_ref / n_ref[:, None]  # F_ref - F_cur after each pooled value, as SciPy computes it
        cdf_gap -= seen_all / n_cur[:, None]
    del seen_ref, seen_all
    steps = np.diff(values, axis=1)
    steps[np.isnan(steps)] = 0.0
    del values
    # The CDFs are compared after the last of equal values (where SciPy evaluates them).
    last_of_ties = np.empty_like(valid)
    np.not_equal(steps, 0, out=last_of_ties[:, :-1])
    last_of_ties[:, :-1] |= valid[:, :-1] & ~valid[:, 1:]
    last_of_ties[:, -1] = valid[:, -1]
    distinct = last_of_ties.sum(axis=1)
    np.abs(cdf_gap, out=cdf_gap)
    cdf_gap[~np.isfinite(cdf_gap)] = 0.0
    ks_d = np.where(last_of_ties, cdf_gap, 0.0).max(axis=1)
    del last_of_ties, valid
    gaps = cdf_gap[:, :-1]
    wasserstein = np.einsum("ij,ij->i", gaps, steps)
    energy = np.sqrt(2.0) * np.sqrt(np.einsum("ij,ij,ij->i", gaps, gaps, steps))
    return PooledStats(n_ref, n_cur, distinct, ks_d, wasserstein, energy)


def ks_pvalues(ks_d: np.ndarray, n_ref: np.ndarray, n_cur: np.ndarray,
               ref_sorted: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Two-sided K-S p-values exactly as ``scipy.stats.ks_2samp(method="auto")`` gives them.

    Large samples use Smirnov's distribution vectorised over columns; small ones (where SciPy
    is exact) call SciPy per column, which is cheap at those sizes.
    """
    m, n = np.maximum(n_ref, n_cur).astype(float), np.minimum(n_ref, n_cur).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        pvalues = np.clip(stats.kstwo.sf(ks_d, np.round(m * n / (m + n))), 0.0, 1.0)
    for j in np.flatnonzero(np.maximum(n_ref, n_cur) <= MAX_EXACT_KS):
        a, b = ref_sorted[j], cur[j]
        pvalues[j] = stats.ks_2samp(a[~np.isnan(a)], b[~np.isnan(b)]).pvalue
    return np.asarray(pvalues, dtype=float)
