"""KServe v1 ``:predict`` and MLflow ``/invocations`` request shapes.

MLflow's scoring server accepts ``dataframe_split`` (``{"columns": [...], "data": [[...]]}``),
``dataframe_records`` (a list of objects), ``instances`` (rows) and ``inputs`` (columns as an
object, or rows); it answers ``{"predictions": [...]}``. KServe v1 takes ``{"instances": [...]}``
and answers the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from slipway.core.errors import InvalidInput
from slipway.serving.frame import Frame, frame_from_columns, frame_from_rows
from slipway.serving.request_body import CsvTable
from slipway.serving.signature import Signature

INVOCATION_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def decode_v1(body: Any, signature: Signature) -> Frame:
    """A frame from a KServe v1 body: ``{"instances": rows}`` (or ``{"inputs": ...}``)."""
    if not isinstance(body, dict) or not ({"instances", "inputs"} & set(body)):
        raise InvalidInput("a v1 predict body must be a JSON object with 'instances'")
    if "instances" in body:
        return frame_from_rows(body["instances"], signature)
    return _decode_inputs(body["inputs"], signature)


def _decode_inputs(inputs: Any, signature: Signature) -> Frame:
    if isinstance(inputs, dict):
        columns = {str(k): (v if isinstance(v, list) else [v]) for k, v in inputs.items()}
        return frame_from_columns(columns, signature)
    return frame_from_rows(inputs, signature)


def decode_invocations(body: Any, signature: Signature) -> Frame:
    """A frame from an MLflow ``/invocations`` JSON body (or a ``text/csv`` one)."""
    if isinstance(body, CsvTable):
        return frame_from_csv(body, signature)
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object with one of {list(INVOCATION_KEYS)}")
    present = [key for key in INVOCATION_KEYS if key in body]
    if len(present) != 1:
        raise InvalidInput(
            f"the body must have exactly one of {list(INVOCATION_KEYS)}, got {present or sorted(body)[:5]}")
    key = present[0]
    value = body[key]
    if key == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("data"), list):
            raise InvalidInput("dataframe_split must be an object with 'columns' and 'data'")
        columns = value.get("columns")
        rows = value["data"]
        if columns is None:
            return frame_from_rows(rows, signature)
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise InvalidInput("dataframe_split 'columns' must be a list of names")
        _refuse_duplicates(columns)
        if not rows:
            raise InvalidInput("the request has no rows")
        for index, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(columns):
                raise InvalidInput(f"dataframe_split row {index} must be a list of {len(columns)} values")
        return frame_from_columns(dict(zip(columns, zip(*rows, strict=True), strict=True)), signature)
    if key == "dataframe_records":
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise InvalidInput("dataframe_records must be a list of objects")
        return frame_from_rows(value, signature)
    if key == "instances":
        return frame_from_rows(value, signature)
    return _decode_inputs(value, signature)


def _refuse_duplicates(columns: list[str]) -> None:
    if len(set(columns)) == len(columns):
        return
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise InvalidInput(f"column {name!r} is given twice in dataframe_split 'columns' (MLflow refuses it too)")
        seen.add(name)


def invocation_method(body: Any) -> str:
    """``predict`` or ``predict_proba``: what ``params.predict_method`` of an ``/invocations`` body
    asks for (MLflow 2.x pyfunc's parameter name).

    Raises:
        InvalidInput: ``params`` is not an object, or names another method.
    """
    params = body.get("params") if isinstance(body, dict) else None
    if params is None:
        return "predict"
    if not isinstance(params, dict):
        raise InvalidInput(f"'params' must be an object, got {params!r}")
    method = params.get("predict_method", "predict")
    if method not in ("predict", "predict_proba"):
        raise InvalidInput(f"params.predict_method is {method!r}; use 'predict' or 'predict_proba'")
    return str(method)


def frame_from_csv(table: CsvTable, signature: Signature) -> Frame:
    """A frame from a CSV body's text values, each column converted to its signature kind (empty
    fields of a number column are NaN, as pandas.read_csv reads them).

    Raises:
        InvalidInput: a value that is not of its column's kind, named.
    """
    if not table.rows:
        raise InvalidInput("the request has no rows")
    columns: dict[str, object] = {}
    for index, name in enumerate(table.columns):
        values = [row[index] for row in table.rows]
        kind = signature.kind_of(name) if signature.columns else None
        columns[name] = _csv_column(name, kind, values)
    return frame_from_columns(columns, signature)


def _csv_column(name: str, kind: str | None, values: list[str]) -> np.ndarray:
    if kind == "string":
        return np.asarray(values, dtype=object)
    if kind == "bool":
        lowered = [v.strip().lower() for v in values]
        bad = [v for v in lowered if v not in ("true", "false", "1", "0")]
        if bad:
            raise InvalidInput(f"input {name!r} must be bool: got {bad[0]!r}")
        return np.asarray([v in ("true", "1") for v in lowered])
    try:
        numbers = np.asarray([v if v.strip() else "nan" for v in values]).astype(np.float64)
    except ValueError as err:
        if kind is None:
            return np.asarray(values, dtype=object)
        raise InvalidInput(f"input {name!r} must be {kind}: {err}") from err
    if kind == "int" and np.all(np.mod(numbers, 1) == 0):
        return numbers.astype(np.int64)
    return numbers
