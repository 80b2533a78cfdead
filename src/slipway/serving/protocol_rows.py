"""KServe v1 ``:predict`` and MLflow ``/invocations`` request shapes.

MLflow's scoring server accepts ``dataframe_split`` (``{"columns": [...], "data": [[...]]}``),
``dataframe_records`` (a list of objects), ``instances`` (rows) and ``inputs`` (columns as an
object, or rows); it answers ``{"predictions": [...]}``. KServe v1 takes ``{"instances": [...]}``
and answers the same.
"""

from __future__ import annotations

from typing import Any

from slipway.core.errors import InvalidInput
from slipway.serving.frame import Frame, frame_from_columns, frame_from_rows
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
    """A frame from an MLflow ``/invocations`` JSON body."""
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
