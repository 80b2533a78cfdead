"""What a report plots per column: the reference's and the current data's distributions.

Numeric columns get :data:`BINS` equal-width bins over the range both samples cover (the
reference is sorted already, so its counts are one ``searchsorted`` per column; the current
block is counted with one vectorised pass); categorical columns their :data:`TOP` most frequent
categories (the rest pooled as ``(other)``). Everything is shares, so the two samples compare
whatever their sizes, and a few hundred numbers per column: a 50-column report stays small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slipway.monitoring import binned

BINS = 40
TOP = 20
OTHER = "(other)"


@dataclass
class Distribution:
    """Shares per bin (numeric: ``edges`` has one more entry than the shares) or per category."""

    kind: str  # numeric | categorical
    reference: list[float]
    current: list[float]
    edges: list[float] | None = None
    categories: list[str] | None = None


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [float(v) for v in (counts / total if total else counts)]


def numeric(ref_sorted: np.ndarray, cur: np.ndarray) -> list[Distribution]:
    """One distribution per row of a ``(k, n)`` block (reference rows sorted, NaN last)."""
    valid = (~np.isnan(ref_sorted)).sum(axis=1)
    with np.errstate(all="ignore"):
        ref_high = np.where(valid > 0, ref_sorted[np.arange(len(valid)), np.maximum(valid - 1, 0)], np.nan)
        low = np.fmin(ref_sorted[:, 0], np.where(np.isnan(cur), np.inf, cur).min(axis=1, initial=np.inf))
        high = np.fmax(ref_high, np.where(np.isnan(cur), -np.inf, cur).max(axis=1, initial=-np.inf))
    empty = ~np.isfinite(low) | ~np.isfinite(high)
    low, high = np.where(empty, 0.0, low), np.where(empty, 1.0, high)
    flat = high <= low
    low, high = np.where(flat, low - 0.5, low), np.where(flat, high + 0.5, high)
    bins = np.full(len(low), BINS, dtype=np.int64)
    cur_counts = binned.histogram_counts(cur, low, high, bins)
    out = []
    for j in range(len(low)):
        edges = np.linspace(low[j], high[j], BINS + 1)
        below = np.searchsorted(ref_sorted[j, :valid[j]], edges[:-1], side="left")
        below = np.append(below, valid[j])  # the last bin is closed, as np.histogram's
        out.append(Distribution("numeric", _shares(np.diff(below).astype(float)), _shares(cur_counts[j]),
                                edges=[float(e) for e in edges]))
    return out


def categorical(keys: np.ndarray, ref: np.ndarray, cur: np.ndarray) -> Distribution:
    """The :data:`TOP` categories by pooled share (ties by name), the rest as ``(other)``."""
    ref_shares = np.asarray(_shares(ref.astype(float)))
    cur_shares = np.asarray(_shares(cur.astype(float)))
    order = np.lexsort((np.asarray(keys, dtype=str), -(ref_shares + cur_shares)))
    top, rest = order[:TOP], order[TOP:]
    names = [str(keys[i]) for i in top]
    ref_out, cur_out = [float(ref_shares[i]) for i in top], [float(cur_shares[i]) for i in top]
    if len(rest):
        names.append(OTHER)
        ref_out.append(float(ref_shares[rest].sum()))
        cur_out.append(float(cur_shares[rest].sum()))
    return Distribution("categorical", ref_out, cur_out, categories=names)
