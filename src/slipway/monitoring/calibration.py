"""Calibration for CBPE, as NannyML decides and fits it.

- :func:`needs_calibration`: NannyML's test (``nannyml.calibration.needs_calibration``): in 10
  stratified shuffle splits (scikit-learn's ``StratifiedShuffleSplit(test_size=0.1,
  random_state=42)``, reproduced draw for draw by :func:`stratified_splits` without its per-row
  Python lists), isotonic calibration fitted on the train part must lower the expected
  calibration error (10 equal-count bins) of the test parts. The scores are sorted once
  (:func:`numpy.unique`); each split then counts only its test rows and fits on the complement.
- :func:`fit_calibration`: scikit-learn's ``IsotonicRegression(out_of_bounds="clip")`` through
  SciPy's pool-adjacent-violators; the knots are interpolated with :func:`numpy.interp`.
- :func:`calibration`: both, sharing the one sort of the scores.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np


def stratified_splits(y: np.ndarray, splits: int, test_size: float = 0.1,
                      seed: int = 42) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train, test) indices, equal to scikit-learn's ``StratifiedShuffleSplit(splits, test_size=
    test_size, random_state=seed).split(X, y)`` (same random draws in the same order)."""
    n = len(y)
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    members = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
    rng = np.random.RandomState(seed)
    for _ in range(splits):
        n_i = _approximate_mode(counts, n_train, rng)
        t_i = _approximate_mode(counts - n_i, n_test, rng)
        train, test = [], []
        for i, count in enumerate(counts):  # one step per class, not per row
            chosen = members[i].take(rng.permutation(count), mode="clip")
            train.append(chosen[:n_i[i]])
            test.append(chosen[n_i[i]:n_i[i] + t_i[i]])
        yield rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _approximate_mode(counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """scikit-learn's ``_approximate_mode`` (the draws per class, ties broken by ``rng``)."""
    continuous = counts / counts.sum() * draws
    floored = np.floor(continuous)
    need = int(draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (index,) = np.where(remainder == value)
            now = min(len(index), need)
            floored[rng.choice(index, size=now, replace=False)] += 1
            need -= now
            if need == 0:
                break
    return floored.astype(int)


def needs_calibration(y: np.ndarray, score: np.ndarray, bins: int = 10, splits: int = 10) -> bool:
    """NannyML's test: does isotonic calibration lower the expected calibration error?"""
    return _needs(y, score, *np.unique(score, return_inverse=True, return_counts=True), bins, splits)


def calibration(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`fit_calibration` when :func:`needs_calibration` says so, else None; the scores are
    sorted once for both."""
    knots, codes, counts = np.unique(score, return_inverse=True, return_counts=True)
    if not _needs(y, score, knots, codes, counts):
        return None
    sums = np.bincount(codes, weights=y.astype(np.float64), minlength=len(knots))
    return knots, _isotonic(sums / counts, counts)


def _needs(y: np.ndarray, score: np.ndarray, knots: np.ndarray, codes: np.ndarray, counts: np.ndarray,
           bins: int = 10, splits: int = 10) -> bool:
    """:func:`needs_calibration` given the sorted distinct scores, each row's position among
    them and their counts (every split then only counts its test rows)."""
    weights = y.astype(np.float64)
    sums = np.bincount(codes, weights=weights, minlength=len(knots))
    if len(np.unique(y)) == 1 or _grouped_auc(sums, counts - sums) > 0.999:
        return False
    truth, before, after = [], [], []
    for _, test in stratified_splits(y, splits):
        test_counts = np.bincount(codes[test], minlength=len(knots))
        test_sums = np.bincount(codes[test], weights=weights[test], minlength=len(knots))
        # the train part's counts and label sums: integers, so exactly the sums over its rows
        x, fitted = _fit_grouped(knots, counts - test_counts, sums - test_sums)
        truth.append(y[test])
        before.append(score[test])
        after.append(_predict_coded(knots, codes[test], x, fitted))
    y_all = np.concatenate(truth)
    return _ece(y_all, np.concatenate(before), bins) > _ece(y_all, np.concatenate(after), bins)


def _predict_coded(knots: np.ndarray, codes: np.ndarray, x: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """``np.interp(knots[codes], x, fitted)``, interpolating each distinct score once, in order."""
    seen = np.zeros(len(knots), dtype=bool)
    seen[codes] = True
    distinct = np.flatnonzero(seen)
    lookup = np.empty(len(knots))
    lookup[distinct] = np.interp(knots[distinct], x, fitted)
    return lookup[codes]


def _grouped_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """ROC AUC (ties count half) from the positive and negative counts of each distinct score,
    in score order: :func:`slipway.monitoring.realised.realised`'s value, without sorting rows."""
    below = np.cumsum(negatives) - negatives
    bottom = positives.sum() * negatives.sum()
    return float((positives * (below + 0.5 * negatives)).sum() / bottom) if bottom > 0 else float("nan")


def _ece(y: np.ndarray, p: np.ndarray, bins: int) -> float:
    n = len(p)
    bins = n // 2 if n <= 2 * bins else bins
    width = n // bins
    edges = np.arange(0, n + 1, width)
    edges[-1] = n
    order = p.argsort()
    p, y = p[order], y[order].astype(np.float64)
    lefts, counts = edges[:-1], np.diff(edges)
    gaps = np.abs(np.add.reduceat(p, lefts) / counts - np.add.reduceat(y, lefts) / counts)
    return float(np.sum(counts / n * gaps))


def _isotonic(means: np.ndarray, counts: np.ndarray) -> np.ndarray:
    from scipy.optimize import isotonic_regression

    return np.asarray(isotonic_regression(means, weights=counts.astype(np.float64)).x)


def _fit_grouped(knots: np.ndarray, counts: np.ndarray, sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fit_calibration` of rows given by their count and label sum per distinct score
    (``knots``, sorted); scores no row has are left out."""
    present = counts > 0
    return knots[present], _isotonic(sums[present] / counts[present], counts[present])


def fit_calibration(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic regression of ``y`` on ``score`` (scikit-learn's ``IsotonicRegression(increasing=True,
    out_of_bounds="clip")``: tied scores averaged, then pool-adjacent-violators with their counts as
    weights); returns the knots, between which :func:`numpy.interp` predicts as scikit-learn does."""
    knots, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=y.astype(np.float64), minlength=len(knots)) / counts
    return knots, _isotonic(means, counts)
