"""Labelled monitoring data: a deployment's payload log joined with its late labels, and model
outputs computed where a table lacks them.

The inference server logs one row per predicted row (``request_id``, ``row``, ``ts_ms``,
``input.<column>``, ``output`` for a prediction or ``output.<i>`` for class probabilities); the
feedback endpoint stores one label per request id (one value for a one-row request, or a list
with one value per row). :func:`join_labels` turns the labels into an Arrow table and joins it on
``(request_id, row)``; rows without a label keep a null target.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.core.errors import InvalidInput
from slipway.monitoring.payload import INPUT

TIMESTAMP = "ts_ms"


def _label_table(labels: dict[str, Any]) -> pa.Table:
    ids = pa.array(list(labels), pa.string())
    # The backend answers with JSON values; a list holds one label per row of its request.
    lists = pa.array([v if isinstance(v, list) else [v] for v in labels.values()])
    parents = pc.list_parent_indices(lists)
    offsets = lists.offsets.to_numpy()[:-1]
    rows = np.arange(len(parents)) - offsets[parents.to_numpy()]
    return pa.table({"request_id": ids.take(parents), "row": pa.array(rows, pa.int64()),
                     "__label": pc.list_flatten(lists)})


def join_labels(log: pa.Table, labels: dict[str, Any], *, target: str, prediction: str, score: str | None,
                variant: str | None = None) -> pa.Table:
    """The payload log's inputs (under their own names), ``prediction``, ``score`` (the positive
    class's probability when two were logged), ``ts_ms`` and ``target`` (null where no label came)."""
    if variant is not None and "variant" in log.column_names:
        log = log.filter(pc.equal(log.column("variant"), variant))
    if log.num_rows == 0 or "row" not in log.column_names:
        raise InvalidInput("the deployment has logged no predictions yet")
    columns: dict[str, Any] = {n[len(INPUT):]: log.column(n) for n in log.column_names if n.startswith(INPUT)}
    probabilities = sorted(n for n in log.column_names if n.startswith("output."))
    if score and len(probabilities) == 2:
        columns[score] = log.column(probabilities[1])
    if "output" in log.column_names:
        columns[prediction] = log.column("output")
    elif score in columns:
        columns[prediction] = pc.cast(pc.greater_equal(columns[score], 0.5), pa.int64())
    keys = {"request_id": log.column("request_id"), "row": log.column("row").cast(pa.int64()),
            TIMESTAMP: log.column(TIMESTAMP), "model": log.column("model"), "version": log.column("version")}
    table = pa.table({**columns, **keys})
    if labels:
        table = table.join(_label_table(labels), ["request_id", "row"], join_type="left outer")
        table = table.rename_columns([target if n == "__label" else n for n in table.column_names])
        table = table.take(pc.sort_indices(table, [(TIMESTAMP, "ascending"), ("request_id", "ascending"),
                                                   ("row", "ascending")]))
    else:
        table = table.append_column(target, pa.nulls(table.num_rows, pa.float64()))
    return table


def add_model_outputs(table: pa.Table, predictor: Any, *, prediction: str, score: str | None,
                      problem: str | None) -> pa.Table:
    """``table`` with ``prediction`` (and ``score`` for a classifier) computed by ``predictor`` on
    its input columns, where they are missing. A multiclass classifier (``predict_proba`` with
    three classes or more) gets one probability column per class instead of ``score``:
    ``<score>.<class>`` (see :func:`probability_columns`)."""
    names = [c["name"] for c in (predictor.signature or {}).get("inputs", []) if "name" in c]
    inputs = table.select(names) if names else table
    if prediction not in table.column_names:
        predicted = np.asarray(predictor.predict(inputs)).reshape(table.num_rows, -1)[:, 0]
        table = table.append_column(prediction, pa.array(predicted))
    if (score and score not in table.column_names and not probability_columns(table, score)
            and problem != "regression" and predictor.has_predict_proba):
        proba = np.asarray(predictor.predict_proba(inputs))
        if proba.ndim != 2 or proba.shape[1] < 2:
            raise InvalidInput(f"CBPE needs a classifier's class probabilities; the model gives {proba.shape}")
        if proba.shape[1] == 2:
            return table.append_column(score, pa.array(proba[:, 1].astype(np.float64)))
        classes = getattr(getattr(predictor, "model", None), "classes_", None)
        names = ([class_name(c) for c in np.asarray(classes).tolist()]
                 if classes is not None and np.ndim(classes) == 1 and len(classes) == proba.shape[1]
                 else [str(i) for i in range(proba.shape[1])])
        for j, name in enumerate(names):
            table = table.append_column(f"{score}.{name}", pa.array(proba[:, j].astype(np.float64)))
    return table


def class_name(value: Any) -> str:
    """A class label as the multiclass path names it (``1.0`` and ``1`` are one class)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def probability_columns(table: pa.Table, score: str | None) -> dict[str, str]:
    """A multiclass classifier's class probability columns (``<score>.<class>``, by class), as
    :func:`add_model_outputs` names them; empty for a binary classifier or a regressor."""
    if not score:
        return {}
    prefix = f"{score}."
    found = {n[len(prefix):]: n for n in table.column_names if n.startswith(prefix)}
    return found if len(found) >= 3 else {}


def served_versions(table: pa.Table) -> list[str]:
    """The ``model/version`` references that served the rows of a labelled payload log."""
    pairs = pc.unique(pc.binary_join_element_wise(table.column("model"), table.column("version"), "/"))
    return [str(v) for v in pairs.to_pylist() if v]
