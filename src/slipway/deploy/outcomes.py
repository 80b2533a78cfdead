"""Per-variant outcome metrics: join the payload log with late feedback labels, vectorised."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa


def outcome_metrics(log: pa.Table, labels: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """For each variant: labelled rows, and accuracy (discrete outputs) or MAE/RMSE (continuous).

    A label is one value (for a one-row request) or a list with one value per row.
    """
    if log.num_rows == 0 or not labels or "output" not in log.column_names:
        return {}
    frame = log.select(["request_id", "row", "variant", "output"]).to_pandas()
    frame = frame[frame["request_id"].isin(labels.keys())]
    if frame.empty:
        return {}
    requests = frame["request_id"].to_numpy()
    rows = frame["row"].to_numpy()
    truth = np.array([_label_at(labels[r], i) for r, i in zip(requests, rows, strict=True)], dtype=object)
    frame = frame.assign(label=truth)
    frame = frame[frame["label"].notna()]
    result: dict[str, dict[str, Any]] = {}
    for variant, group in frame.groupby("variant"):
        predicted = group["output"].to_numpy()
        actual = group["label"].to_numpy()
        metrics: dict[str, Any] = {"labelled_rows": len(group)}
        try:
            p, a = predicted.astype(np.float64), actual.astype(np.float64)
            if np.all(np.mod(a, 1) == 0) and np.all(np.mod(p, 1) == 0):
                metrics["accuracy"] = float(np.mean(p == a))
            else:
                metrics["mae"] = float(np.mean(np.abs(p - a)))
                metrics["rmse"] = float(np.sqrt(np.mean((p - a) ** 2)))
        except (TypeError, ValueError):
            metrics["accuracy"] = float(np.mean(predicted.astype(str) == actual.astype(str)))
        result[str(variant)] = metrics
    return result


def _label_at(label: Any, row: int) -> Any:
    if isinstance(label, list):
        return label[row] if row < len(label) else None
    return label if row == 0 else None
