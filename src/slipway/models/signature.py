"""Model signatures: what a model takes and returns, inferred from an example batch.

A signature is plain JSON, so it travels in ``slipway-model.json`` and in registry records::

    {"inputs": [{"name": "Type", "type": "string"}, {"name": "Torque [Nm]", "type": "double"}],
     "outputs": [{"type": "tensor", "dtype": "int64", "shape": [-1]}]}

Inputs are either named columns (``type`` one of :data:`COLUMN_TYPES`) or one tensor
(``{"type": "tensor", "dtype": ..., "shape": [...]}`` with ``-1`` for a free dimension).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from slipway.core.errors import InvalidInput

COLUMN_TYPES = ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")
# What a column of one type may be given as (and is cast to the signature's type).
ACCEPTS: dict[str, frozenset[str]] = {
    "boolean": frozenset({"boolean"}),
    "integer": frozenset({"integer"}),
    "long": frozenset({"integer", "long"}),
    "float": frozenset({"integer", "long", "float", "double"}),  # float32 models take float64 data, as in training
    "double": frozenset({"integer", "long", "float", "double"}),
    "string": frozenset({"string"}),
    "binary": frozenset({"binary"}),
    "datetime": frozenset({"datetime"}),
}
_NUMPY_OF = {"boolean": "bool", "integer": "int32", "long": "int64", "float": "float32", "double": "float64"}
Batch = Any  # pandas DataFrame, pyarrow Table, NumPy array, list of dicts or dict of lists


def to_frame_or_array(batch: Batch) -> pd.DataFrame | np.ndarray:
    """Any supported batch as a DataFrame (tabular) or an ndarray (tensor)."""
    if isinstance(batch, pd.DataFrame | np.ndarray):
        return batch
    if isinstance(batch, pa.Table | pa.RecordBatch):
        return batch.to_pandas()
    if isinstance(batch, pd.Series):
        return batch.to_frame()
    if isinstance(batch, list) and (not batch or isinstance(batch[0], dict)):
        return pd.DataFrame.from_records(batch)
    if isinstance(batch, dict):
        return pd.DataFrame(batch)
    if isinstance(batch, list):
        return np.asarray(batch)
    if hasattr(batch, "numpy") and callable(batch.numpy):  # a torch tensor
        return np.asarray(batch.detach().cpu().numpy() if hasattr(batch, "detach") else batch.numpy())
    raise InvalidInput(
        f"a batch must be a pandas DataFrame, pyarrow Table, NumPy array or list of dicts, not {type(batch).__name__}"
    )


def column_type(series: pd.Series) -> str:
    """The signature type of a pandas column (``string`` for text, whatever its dtype)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return column_type(pd.Series(dtype.categories))
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer" if dtype.itemsize <= 4 and kind == "i" else "long"
    if kind == "f":
        return "float" if dtype.itemsize <= 4 else "double"
    if kind == "M":
        return "datetime"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred in ("string", "empty"):
        return "string"
    if inferred == "bytes":
        return "binary"
    if inferred in ("integer", "floating", "mixed-integer-float", "boolean", "datetime"):
        return {"integer": "long", "floating": "double", "mixed-integer-float": "double"}.get(inferred, inferred)
    return f"object ({inferred})"


def tensor_spec(array: np.ndarray) -> dict[str, Any]:
    return {"type": "tensor", "dtype": str(array.dtype), "shape": [-1, *array.shape[1:]]}


def infer_schema(batch: Batch) -> list[dict[str, Any]]:
    """The input (or output) part of a signature for an example batch."""
    data = to_frame_or_array(batch)
    if isinstance(data, np.ndarray):
        if data.dtype.kind == "O":
            raise InvalidInput("an example array of Python objects has no signature; use a DataFrame or a numeric array")
        return [tensor_spec(data)]
    specs = []
    for name in data.columns:
        kind = column_type(data[name])
        if kind not in COLUMN_TYPES:
            raise InvalidInput(f"column {name!r} of the example holds {kind}, which a signature cannot describe")
        specs.append({"name": str(name), "type": kind})
    return specs


def infer_output_schema(output: Batch) -> list[dict[str, Any]]:
    """The output part of a signature: :func:`infer_schema`, and a classifier's string class
    labels (an object array of ``str``) as a tensor of dtype ``str``."""
    data = to_frame_or_array(output)
    if isinstance(data, np.ndarray) and data.dtype.kind in "OU" and data.size and all(
            isinstance(v, str) for v in data.ravel().tolist()):
        return [{"type": "tensor", "dtype": "str", "shape": [-1, *data.shape[1:]]}]
    return infer_schema(output)


def is_tensor(schema: list[dict[str, Any]]) -> bool:
    return len(schema) == 1 and schema[0].get("type") == "tensor"


def check_frame(frame: pd.DataFrame, schema: list[dict[str, Any]]) -> pd.DataFrame:
    """``frame`` with exactly the signature's columns, in its order and types; InvalidInput otherwise."""
    names = [spec["name"] for spec in schema]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InvalidInput(f"input is missing column {missing[0]!r}; the model's signature expects {names}")
    out = frame[names] if list(frame.columns) != names else frame
    casts: dict[str, str] = {}
    for spec in schema:
        name, expected = spec["name"], spec["type"]
        actual = column_type(out[name])
        if actual not in ACCEPTS[expected]:
            raise InvalidInput(f"column {name!r} has type {actual} but the model's signature expects {expected}")
        if actual != expected and expected in _NUMPY_OF:
            casts[name] = _NUMPY_OF[expected]
    return out.astype(casts) if casts else out


def check_array(array: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """``array`` cast to the tensor spec's dtype after checking its kind and shape."""
    expected = np.dtype(spec["dtype"])
    if array.dtype.kind == "O" or (array.dtype.kind == "f" and expected.kind in "iub") or (
        array.dtype.kind in "iu" and expected.kind == "b"
    ):
        raise InvalidInput(f"input array has dtype {array.dtype} but the model's signature expects {expected}")
    shape = spec.get("shape") or []
    if shape and array.ndim != len(shape):
        raise InvalidInput(f"input array has shape {list(array.shape)} but the model's signature expects {shape}")
    for axis, (got, want) in enumerate(zip(array.shape, shape, strict=False)):
        if want != -1 and got != want:
            raise InvalidInput(
                f"input array has {got} entries on axis {axis} but the model's signature expects {want} (shape {shape})"
            )
    return array if array.dtype == expected else array.astype(expected)


def check_batch(batch: Batch, schema: list[dict[str, Any]]) -> pd.DataFrame | np.ndarray:
    """Validate ``batch`` against the input schema and return it in the model's native form."""
    data = to_frame_or_array(batch)
    if not schema:
        return data
    if is_tensor(schema):
        if isinstance(data, pd.DataFrame):
            data = data.to_numpy()
        return check_array(data, schema[0])
    if isinstance(data, np.ndarray):
        if data.ndim != 2 or data.shape[1] != len(schema):
            raise InvalidInput(
                f"an array input must be 2-D with {len(schema)} columns ({[s['name'] for s in schema]}), "
                f"got shape {list(data.shape)}; pass a DataFrame or list of dicts with named columns"
            )
        data = pd.DataFrame(data, columns=[s["name"] for s in schema])
    return check_frame(data, schema)
