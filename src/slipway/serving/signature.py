"""What a served model accepts: named, typed input columns.

The registry stores a signature as JSON; this module reads the common shapes of it (Slipway's and
MLflow's column specs) into one small :class:`Signature` that the protocol codecs check requests
against. Checking is vectorised per column: a request is converted column by column with NumPy, so
a 32-row request costs a handful of array conversions, not 32 x columns Python checks.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from slipway.core.errors import InvalidInput

# Column kinds the server distinguishes; every spelling a signature may use maps to one.
_KIND_ALIASES = {
    "float": "float", "double": "float", "float64": "float", "float32": "float", "float16": "float",
    "fp16": "float", "fp32": "float", "fp64": "float", "number": "float",
    "int": "int", "integer": "int", "long": "int", "int8": "int", "int16": "int", "int32": "int", "int64": "int",
    "uint8": "int", "uint16": "int", "uint32": "int", "uint64": "int",
    "bool": "bool", "boolean": "bool",
    "str": "string", "string": "string", "object": "string", "bytes": "string", "binary": "string",
    "category": "string", "categorical": "string", "datetime": "string",
}
NUMPY_OF_KIND = {"float": np.float64, "int": np.int64, "bool": np.bool_}


@dataclasses.dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One input column: its name and kind (``float``, ``int``, ``bool`` or ``string``)."""

    name: str
    kind: str


@dataclasses.dataclass(frozen=True)
class Signature:
    """The input columns a model takes, in order; empty means "anything goes"."""

    columns: tuple[ColumnSpec, ...] = ()

    @functools.cached_property
    def _names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @functools.cached_property
    def kinds(self) -> dict[str, str]:
        """Column name -> kind (built once; do not modify)."""
        return {c.name: c.kind for c in self.columns}

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def kind_of(self, name: str) -> str | None:
        return self.kinds.get(name)

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": [{"name": c.name, "type": c.kind} for c in self.columns]}


def kind_of(type_name: Any) -> str:
    """The column kind for a type spelling (``double``, ``FP32``, ``int64``, ``string``…)."""
    kind = _KIND_ALIASES.get(str(type_name).lower())
    if kind is None:
        raise InvalidInput(f"unknown column type {type_name!r} in the model signature")
    return kind


def parse_signature(raw: Any) -> Signature:
    """Read a signature from a :class:`Signature`, a JSON string, ``{"inputs": [...]}`` or a list.

    Each input is ``{"name": ..., "type": ...}`` (``dtype`` also accepted). Unnamed tensor specs
    yield an empty signature: the model then takes whatever columns the request names.
    """
    if isinstance(raw, Signature):
        return raw
    if raw is None:
        return Signature()
    if isinstance(raw, str | bytes):
        import orjson

        raw = orjson.loads(raw) if raw else {}
    if hasattr(raw, "to_dict") and not isinstance(raw, dict):
        raw = raw.to_dict()
    if hasattr(raw, "inputs") and not isinstance(raw, dict):
        raw = {"inputs": list(raw.inputs)}
    inputs: Sequence[Any] = raw.get("inputs", []) if isinstance(raw, dict) else raw
    if isinstance(inputs, str):
        import orjson

        inputs = orjson.loads(inputs)
    columns = []
    for spec in inputs or []:
        if not isinstance(spec, dict):
            spec = {"name": getattr(spec, "name", None), "type": getattr(spec, "type", None)
                    or getattr(spec, "dtype", None)}
        name = spec.get("name")
        if not name:
            return Signature()
        columns.append(ColumnSpec(str(name), kind_of(spec.get("type") or spec.get("dtype") or "float")))
    return Signature(tuple(columns))


def cast_checked(raw: np.ndarray, dtype: Any) -> np.ndarray:
    """``raw`` as ``dtype``, refusing what would not survive the cast: an integer outside the
    type's range (numpy would wrap it: 300 as UINT8 is 44) or a finite number that overflows a
    float type (70000 as FP16 is inf). An array already of ``dtype`` is returned as it is.

    Raises:
        ValueError: a value out of range, named.
    """
    target = np.dtype(dtype)
    if raw.dtype == target or raw.size == 0:
        return raw
    if target.kind in "iu":
        if raw.dtype.kind == "f" and not np.isfinite(raw).all():
            raise ValueError(f"{raw[~np.isfinite(raw)][0]!r} is not an integer")
        info = np.iinfo(target)
        low, high = int(raw.min()), int(raw.max())
        if low < info.min or high > info.max:
            raise ValueError(f"{low if low < info.min else high} is out of range for {target}")
        return raw.astype(target)
    with np.errstate(over="ignore"):  # an overflow is reported below, with the value
        cast = raw.astype(target)
    if target.kind == "f" and raw.dtype.kind in "iuf":
        overflow = ~np.isfinite(cast) & np.isfinite(raw)
        if overflow.any():
            raise ValueError(f"{raw[overflow][0]!r} is out of range for {target}")
    return cast


def column_array(name: str, kind: str | None, values: Any) -> np.ndarray:
    """Convert one column's values to an array of its kind, or say exactly what is wrong."""
    if kind == "string":
        array = np.asarray(values, dtype=object)
        if array.ndim != 1:
            raise InvalidInput(f"input {name!r} must be one value per row, got shape {list(array.shape)}")
        bad = [v for v in array[:1000] if not isinstance(v, str)]
        if bad:
            raise InvalidInput(f"input {name!r} must be strings, got {bad[0]!r}")
        return array
    dtype = NUMPY_OF_KIND.get(kind or "")
    try:
        raw = np.asarray(values)
        got = raw.dtype.kind
        if kind == "int" and got == "f" and not np.all(np.mod(raw, 1) == 0):
            raise ValueError(f"{raw[np.mod(raw, 1) != 0][0]!r} is not an integer")
        if kind is not None and got in "OUS":
            raise ValueError(f"got {raw.ravel()[0]!r}")
        if kind in ("int", "float") and got == "b":
            raise ValueError(f"got {raw.ravel()[0]!r}, a boolean")
        # Already the column's type (JSON numbers of a float or int column): nothing to cast or check.
        array = raw if dtype is None or raw.dtype == dtype else cast_checked(raw, dtype)
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"input {name!r} must be {kind or 'numbers'}: {err}") from err
    if array.ndim != 1:
        raise InvalidInput(f"input {name!r} must be one value per row, got shape {list(array.shape)}")
    if dtype is None and array.dtype.kind in "US":
        array = array.astype(object)
    return array
