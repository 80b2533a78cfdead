"""A drift run: every tested column of the current data against the prepared reference.

Numeric columns go through in blocks (as many columns as fit in :data:`BLOCK_BYTES` of working
memory): one pooled sort per block gives the K-S statistic, the Wasserstein and energy distances
and the distinct counts of all its columns; binned and count tests run on padded matrices.
Only the tests SciPy offers no vectorised form for (Anderson-Darling, Cramer-von Mises,
Mann-Whitney, t-test, Fisher) call SciPy once per column, still vectorised over rows.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable

import numpy as np
import pyarrow as pa
from scipy import stats

from slipway.monitoring import binned, distributions, ecdf
from slipway.monitoring.choice import default_method
from slipway.monitoring.columns import ParquetColumns
from slipway.monitoring.counts import CountBlock, union_counts
from slipway.monitoring.methods import CATEGORICAL, NUMERIC, method
from slipway.monitoring.records import ColumnDrift, DriftReport
from slipway.monitoring.reference import Reference, category_counts, numeric_column
from slipway.monitoring.spec import DriftSpec
from slipway.monitoring.window import WindowPartial

BLOCK_BYTES = 128 * 2**20
_BYTES_PER_VALUE = 48  # pooled values, sort order, masks and cumulative counts per pooled value
_PER_COLUMN = {
    "anderson": lambda a, b: _anderson(a, b),
    "cramer_von_mises": lambda a, b: stats.cramervonmises_2samp(a, b).pvalue,
    "mannw": lambda a, b: stats.mannwhitneyu(a, b, alternative="less").pvalue,
    "t_test": lambda a, b: stats.ttest_ind(a, b).pvalue,
}


def _anderson(a: np.ndarray, b: np.ndarray) -> float:
    # SciPy floors the p-value at 0.001 and caps it at 0.25 (as Evidently reports it) and warns.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.anderson_ksamp([a, b]).pvalue)


def compare(reference: Reference, current: pa.Table | ParquetColumns | WindowPartial, spec: DriftSpec | None = None,
            progress: Callable[[int, int], None] | None = None) -> DriftReport:
    """Test every column of ``current`` that ``spec`` selects against ``reference``.

    ``current`` may be a :class:`ParquetColumns` (then one column at a time is read) or a merged
    :class:`WindowPartial`. ``progress(columns_done, columns)`` is called after each block.

    Raises:
        InvalidInput: the spec names an unknown column or method, a method that does not fit a
            column's kind, a bad threshold, or a column the current data lacks.
    """
    spec = spec or DriftSpec()
    spec.check(reference.kinds, current.column_names)
    tested = spec.tested(reference.kinds)
    results: dict[str, ColumnDrift] = {}
    numeric = [n for n in tested if reference.kinds[n] == NUMERIC]
    per_block = max(1, BLOCK_BYTES // (_BYTES_PER_VALUE * (reference.rows + current.num_rows)))
    for start in range(0, len(numeric), per_block):
        results.update(_numeric_block(reference, current, numeric[start:start + per_block], spec))
        if progress is not None:
            progress(len(results), len(tested))
    results.update(_categorical(reference, current, [n for n in tested if reference.kinds[n] == CATEGORICAL], spec))
    if progress is not None:
        progress(len(results), len(tested))
    skipped = {n: "not numeric or categorical" for n in current.column_names if n not in reference.kinds}
    report = DriftReport([results[n] for n in tested], spec.drift_share, spec.correction, skipped)
    _correct(report, spec)
    return report


def _choose(spec: DriftSpec, name: str, kind: str, rows: int, distinct: int) -> tuple[str, str]:
    chosen = spec.method_for(name, kind)
    if chosen is not None:
        return chosen.name, "chosen by the spec"
    return default_method(kind, rows, distinct)


def _numeric_block(reference: Reference, current: pa.Table | ParquetColumns | WindowPartial, names: list[str], spec: DriftSpec) -> dict[str, ColumnDrift]:
    position = {n: j for j, n in enumerate(reference.numeric_names)}
    ref = np.asarray(reference.numeric[[position[n] for n in names]])
    cur = np.stack([numeric_column(current.column(n)) for n in names])
    pooled = ecdf.pooled_stats(ref, cur)
    steps = np.diff(ref, axis=1)
    ref_distinct = (~np.isnan(ref[:, 0])) + ((steps != 0) & ~np.isnan(steps)).sum(axis=1)
    del steps
    groups: dict[str, list[int]] = defaultdict(list)
    reasons = []
    for j, name in enumerate(names):
        chosen, reason = _choose(spec, name, NUMERIC, int(pooled.n_ref[j]), int(pooled.distinct[j]))
        groups[chosen].append(j)
        reasons.append((chosen, reason))
    scores = np.full(len(names), np.nan)
    integer = np.array([pa.types.is_integer(current.schema.field(n).type) for n in names])
    for chosen, cols in groups.items():
        scores[cols] = _numeric_scores(chosen, ref[cols], cur[cols], pooled, cols, ref_distinct[cols],
                                       [names[j] for j in cols], integer[cols])
    plots = distributions.numeric(ref, cur)
    return {name: _result(name, NUMERIC, reasons[j], scores[j], spec, int(pooled.n_ref[j]), int(pooled.n_cur[j]),
                          int(pooled.distinct[j]), plots[j]) for j, name in enumerate(names)}


def _numeric_scores(chosen: str, ref: np.ndarray, cur: np.ndarray, pooled: ecdf.PooledStats, cols: list[int],
                    ref_distinct: np.ndarray, names: list[str], integer: np.ndarray) -> np.ndarray:
    """The scores of one method for some columns of a block (``integer``: of an integer type in
    the current data, binned as NumPy bins integers)."""
    n_ref, n_cur = pooled.n_ref[cols], pooled.n_cur[cols]
    if chosen == "ks":
        return ecdf.ks_pvalues(pooled.ks_d[cols], n_ref, n_cur, ref, cur)
    if chosen == "wasserstein":
        return np.asarray(pooled.wasserstein[cols] / np.maximum(np.nanstd(ref, axis=1), 0.001))
    if chosen == "ed":
        return np.asarray(pooled.energy[cols])
    if chosen == "psi":
        return CountBlock(names, list(binned.quantile_bins(ref, ref)), list(binned.quantile_bins(ref, cur))).score("psi")
    if chosen in _PER_COLUMN:
        test = _PER_COLUMN[chosen]
        return np.array([test(ref[j][~np.isnan(ref[j])], cur[j][~np.isnan(cur[j])]) for j in range(len(cols))])
    low = np.fmin(np.nanmin(ref, axis=1), np.nanmin(cur, axis=1))
    high = np.fmax(np.nanmax(ref, axis=1), np.nanmax(cur, axis=1))
    if chosen == "hellinger":  # Evidently bins the distinct values with Sturges' rule, not the rows
        bins = binned.sturges_bins(pooled.distinct[cols].astype(float), low, high, integer)
        return _hist_block(chosen, names, ref, cur, low, high, bins, np.ones(len(cols), dtype=bool))
    binned_cols = ref_distinct > 20 if chosen in ("jensenshannon", "kl_div") else np.zeros(len(cols), dtype=bool)
    bins = binned.sturges_bins((n_ref + n_cur).astype(float), low, high, integer)
    return _hist_block(chosen, names, ref, cur, low, high, bins, binned_cols)


def _hist_block(chosen: str, names: list[str], ref: np.ndarray, cur: np.ndarray, low: np.ndarray, high: np.ndarray,
                bins: np.ndarray, use_bins: np.ndarray) -> np.ndarray:
    """Score columns on Sturges histograms where ``use_bins``, else on their distinct values."""
    ref_rows: list[np.ndarray] = []
    cur_rows: list[np.ndarray] = []
    ref_hist = binned.histogram_counts(ref, low, high, bins) if use_bins.any() else None
    cur_hist = binned.histogram_counts(cur, low, high, bins) if use_bins.any() else None
    for j in range(len(names)):
        if use_bins[j] and ref_hist is not None and cur_hist is not None:
            ref_rows.append(ref_hist[j, :bins[j]])
            cur_rows.append(cur_hist[j, :bins[j]])
        else:
            a, b = ref[j][~np.isnan(ref[j])], cur[j][~np.isnan(cur[j])]
            ref_keys, ref_counts = np.unique(a, return_counts=True)
            cur_keys, cur_counts = np.unique(b, return_counts=True)
            _, r, c = union_counts(ref_keys, ref_counts, cur_keys, cur_counts)
            ref_rows.append(r)
            cur_rows.append(c)
    return CountBlock(names, ref_rows, cur_rows).score(chosen)


def _categorical(reference: Reference, current: pa.Table | ParquetColumns | WindowPartial, names: list[str], spec: DriftSpec) -> dict[str, ColumnDrift]:
    rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    groups: dict[str, list[str]] = defaultdict(list)
    reasons = {}
    plots = {}
    for name in names:
        ref_keys, ref_counts = reference.categories[name]
        cur_keys, cur_counts = (current.category_counts(name) if isinstance(current, WindowPartial)
                                else category_counts(current.column(name)))
        keys, r, c = union_counts(ref_keys, ref_counts, cur_keys, cur_counts)
        rows[name] = (r, c)
        plots[name] = distributions.categorical(keys, r, c)
        reasons[name] = _choose(spec, name, CATEGORICAL, int(r.sum()), len(r))
        groups[reasons[name][0]].append(name)
    out = {}
    for chosen, members in groups.items():
        scores = CountBlock(members, [rows[n][0] for n in members], [rows[n][1] for n in members]).score(chosen)
        for name, score in zip(members, scores, strict=True):
            r, c = rows[name]
            out[name] = _result(name, CATEGORICAL, reasons[name], float(score), spec, int(r.sum()), int(c.sum()), len(r),
                                plots[name])
    return out


def _result(name: str, kind: str, choice: tuple[str, str], score: float, spec: DriftSpec, n_ref: int, n_cur: int,
            distinct: int, plot: distributions.Distribution) -> ColumnDrift:
    chosen = method(choice[0])
    threshold = spec.threshold_for(name, kind, chosen)
    return ColumnDrift(name, kind, chosen.name, choice[1], float(score),
                       float(score) if chosen.returns_p_value else None, threshold,
                       chosen.drifted(float(score), threshold), n_ref, n_cur, distinct, distribution=plot)


def _correct(report: DriftReport, spec: DriftSpec) -> None:
    """Bonferroni or Benjamini-Hochberg over the columns whose method returns a p-value."""
    tests = [c for c in report.columns if c.p_value is not None and c.p_value == c.p_value]
    if spec.correction is None or not tests:
        return
    p = np.array([c.p_value for c in tests], dtype=float)
    m = len(p)
    if spec.correction == "bonferroni":
        adjusted = np.minimum(1.0, p * m)
    else:
        order = np.argsort(p)
        scaled = p[order] * m / np.arange(1, m + 1)
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    for column, value in zip(tests, adjusted, strict=True):
        column.p_value_adjusted = float(value)
        column.drifted = method(column.method).drifted(float(value), column.threshold)
