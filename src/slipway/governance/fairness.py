"""Group fairness of a binary classifier with Fairlearn's ``MetricFrame``.

For each sensitive attribute, and for their intersection when there are several, the report has
per-group sizes, selection rate, true and false positive rates, and a Fisher exact test of the
group's selection against everyone else's; then demographic parity difference and ratio,
equalized odds difference and ratio, and the disparate impact ratio (lowest over highest
selection rate; the four-fifths rule asks for >= 0.8), with a chi-square test of independence
between group and selection. Groups smaller than ``min_group_size`` are flagged and left out of
the headline figures, because a handful of rows swings a ratio on noise alone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count, false_positive_rate, selection_rate, true_positive_rate
from scipy import stats

from slipway.core.errors import InvalidInput

HEADLINE = ("demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
            "equalized_odds_ratio", "disparate_impact_ratio")
# What a stored report keeps per attribute (the fairness summary policies and cards read).
SUMMARY_KEYS = (*HEADLINE, "four_fifths_passed", "small_groups")


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _ratio(values: pd.Series) -> float:
    values = values.dropna()
    if values.empty or values.max() == 0:
        return math.nan
    return float(values.min() / values.max())


def _spread(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.max() - values.min()) if not values.empty else math.nan


def _attribute_report(y_true: np.ndarray, y_pred: np.ndarray, groups: pd.Series, min_group_size: int) -> dict[str, Any]:
    frame = MetricFrame(
        metrics={"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate, "size": count},
        y_true=y_true, y_pred=y_pred, sensitive_features=groups,
    )
    by_group = frame.by_group
    selected_total, n_total = int(y_pred.sum()), len(y_pred)
    rows = []
    for group, metrics in by_group.iterrows():
        size = int(metrics["size"])
        selected = round(float(metrics["selection_rate"]) * size)
        table = [[selected, size - selected], [selected_total - selected, (n_total - size) - (selected_total - selected)]]
        p_value = float(stats.fisher_exact(table)[1]) if n_total > size else math.nan
        row: dict[str, Any] = {"group": str(group), "size": size, "selected": selected,
                               "selection_rate": _finite(metrics["selection_rate"]), "tpr": _finite(metrics["tpr"]),
                               "fpr": _finite(metrics["fpr"]), "small": size < min_group_size,
                               "fisher_p_value": _finite(p_value)}
        rows.append(row)
    eligible = by_group[by_group["size"] >= min_group_size]
    counts = [[r["selected"], r["size"] - r["selected"]] for r in rows if not r["small"]]
    chi2_p = math.nan
    if len(counts) >= 2 and all(sum(col) > 0 for col in zip(*counts, strict=True)):
        chi2_p = float(stats.chi2_contingency(counts)[1])
    dp_ratio = _ratio(eligible["selection_rate"])
    return {
        "groups": rows,
        "small_groups": [r["group"] for r in rows if r["small"]],
        "demographic_parity_difference": _finite(_spread(eligible["selection_rate"])),
        "demographic_parity_ratio": _finite(dp_ratio),
        "equalized_odds_difference": _finite(max(_spread(eligible["tpr"]), _spread(eligible["fpr"]))),
        "equalized_odds_ratio": _finite(min(_ratio(eligible["tpr"]), _ratio(eligible["fpr"]))),
        "disparate_impact_ratio": _finite(dp_ratio),
        "four_fifths_passed": bool(dp_ratio >= 0.8) if math.isfinite(dp_ratio) else False,
        "chi2_p_value": _finite(chi2_p),
    }


def fairness_report(y_true: Any, y_pred: Any, sensitive: pd.DataFrame, positive_label: Any = 1,
                    min_group_size: int = 30) -> dict[str, Any]:
    """The report for labels ``y_true``, predictions ``y_pred`` and one column per sensitive attribute.

    Raises:
        InvalidInput: lengths differ, no sensitive column, or the positive label never occurs.
    """
    truth = np.asarray(y_true).ravel()
    predicted = np.asarray(y_pred).ravel()
    if len(truth) != len(predicted) or len(truth) != len(sensitive):
        raise InvalidInput(f"labels ({len(truth)}), predictions ({len(predicted)}) and sensitive columns "
                           f"({len(sensitive)}) must have the same number of rows")
    if sensitive.shape[1] == 0:
        raise InvalidInput("name at least one sensitive column")
    if len(truth) == 0:
        raise InvalidInput("the evaluation data has no rows")
    y_true_bin = (truth == positive_label).astype(int)
    y_pred_bin = (predicted == positive_label).astype(int)
    if y_true_bin.sum() == 0:
        raise InvalidInput(f"the positive label {positive_label!r} never occurs in the label column; "
                           f"labels seen: {sorted(map(str, pd.unique(truth)))[:10]}")
    attributes: dict[str, Any] = {}
    columns = [str(c) for c in sensitive.columns]
    for column in columns:
        attributes[column] = _attribute_report(y_true_bin, y_pred_bin, sensitive[column].astype(str), min_group_size)
    if len(columns) > 1:
        combined = sensitive[columns].astype(str).agg(" & ".join, axis=1)
        attributes["&".join(columns)] = _attribute_report(y_true_bin, y_pred_bin, combined, min_group_size)
    positives = y_true_bin == 1
    return {
        "rows": len(truth), "positive_label": positive_label if isinstance(positive_label, int | str) else str(positive_label),
        "min_group_size": int(min_group_size),
        "overall": {"selection_rate": float(y_pred_bin.mean()), "accuracy": float((y_true_bin == y_pred_bin).mean()),
                    "tpr": float(y_pred_bin[positives].mean()),
                    "fpr": _finite(y_pred_bin[~positives].mean()) if (~positives).any() else None},
        "attributes": attributes,
    }


def summarise(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Headline figures per attribute: what policies read."""
    return {name: {key: body[key] for key in SUMMARY_KEYS} for name, body in report["attributes"].items()}
