"""Tests on category counts, for many columns at once.

Each column brings its keys (categories or distinct numbers) and the counts of each key in the
reference and the current data; the counts are padded into ``(k, m)`` matrices and every test
is computed row-wise. Definitions follow Evidently 0.7 (chi-square against the reference
proportions scaled to the current size, the Z-test on the share of the smallest key, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from slipway.core.errors import InvalidInput
from slipway.monitoring import binned


class CountBlock:
    """Padded count matrices of several columns (keys sorted ascending per column)."""

    def __init__(self, names: Sequence[str], ref: Sequence[np.ndarray], cur: Sequence[np.ndarray]) -> None:
        width = max((len(r) for r in ref), default=0) or 1
        self.names = list(names)
        self.ref = np.zeros((len(ref), width))
        self.cur = np.zeros((len(ref), width))
        self.present = np.zeros((len(ref), width), dtype=bool)
        for row, (r, c) in enumerate(zip(ref, cur, strict=True)):
            self.ref[row, :len(r)], self.cur[row, :len(c)], self.present[row, :len(r)] = r, c, True
        self.n_ref = self.ref.sum(axis=1)
        self.n_cur = self.cur.sum(axis=1)
        self.keys = self.present.sum(axis=1)

    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        return self.ref / self.n_ref[:, None], self.cur / self.n_cur[:, None]

    def score(self, name: str) -> np.ndarray:
        """The score of method ``name`` for every column of the block."""
        ref_share, cur_share = self.shares()
        if name == "jensenshannon":
            return binned.jensen_shannon(ref_share, cur_share)
        if name == "hellinger":
            return binned.hellinger(ref_share, cur_share)
        if name in ("kl_div", "psi"):
            ref_f, cur_f = binned.fill_zeros(ref_share, self.present), binned.fill_zeros(cur_share, self.present)
            if name == "kl_div":
                return binned.kl_divergence(ref_f, cur_f, self.present)
            return binned.population_stability(ref_f, cur_f, self.present)
        if name in ("chisquare", "g_test"):
            expected = self.ref * (self.n_cur / self.n_ref)[:, None]
            with np.errstate(invalid="ignore", divide="ignore"):
                if name == "chisquare":
                    terms = (self.cur - expected) ** 2 / expected
                else:
                    terms = 2.0 * self.cur * np.log(self.cur / expected)
                    terms[self.cur == 0] = 0.0
            statistic = np.where(self.present, terms, 0.0).sum(axis=1)
            return np.asarray(stats.chi2.sf(statistic, self.keys - 1), dtype=float)
        if name == "z":
            return self._z_test()
        if name == "fisher_exact":
            return self._fisher()
        raise InvalidInput(f"method {name!r} does not work on category counts")

    def _z_test(self) -> np.ndarray:
        # Evidently: the share of values other than the smallest key, pooled two-proportion test.
        n1, n2 = self.n_ref, self.n_cur
        p1 = (n1 - self.ref[:, 0]) / n1
        p2 = (n2 - self.cur[:, 0]) / n2
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
        p_value = 2 * (1 - stats.norm.cdf(np.abs(z)))
        return np.asarray(np.where(self.keys == 1, 1.0, p_value), dtype=float)

    def _fisher(self) -> np.ndarray:
        out = np.empty(len(self.names))
        for row, name in enumerate(self.names):  # one 2x2 table per column
            if self.keys[row] > 2:
                raise InvalidInput(f"fisher_exact needs a column with at most 2 values; {name!r} has {self.keys[row]}")
            a, b = self.ref[row, :2] if self.keys[row] == 2 else (self.ref[row, 0], 0.0)
            c, d = self.cur[row, :2] if self.keys[row] == 2 else (self.cur[row, 0], 0.0)
            out[row] = stats.fisher_exact([[a, b], [c, d]]).pvalue
        return out


def union_counts(ref_keys: np.ndarray, ref_counts: np.ndarray, cur_keys: np.ndarray,
                 cur_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both count vectors over the sorted union of the keys (a missing key counts 0)."""
    keys = np.union1d(ref_keys, cur_keys)
    ref = np.zeros(len(keys))
    cur = np.zeros(len(keys))
    ref[np.searchsorted(keys, ref_keys)] = ref_counts
    cur[np.searchsorted(keys, cur_keys)] = cur_counts
    return keys, ref, cur
