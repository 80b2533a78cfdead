"""Typed serialisers for step outputs. Every output becomes one blob, addressed by its digest.

===========  ======================================  =====================================
kind         values                                  bytes
===========  ======================================  =====================================
``arrow``    ``pyarrow.Table``                       Parquet (zstd)
``pandas``   ``pandas.DataFrame``                    Parquet, read back as a DataFrame
``numpy``    ``numpy.ndarray`` (not object dtype)    ``.npy``
``json``     JSON-able values and Slipway records    canonical JSON (sorted keys), so a
             (a ``ModelVersion``, a ``Blessing``:    record is passed by reference
             models travel by reference)
``pickle``   anything else (e.g. a fitted model)     pickle protocol 5; only ever read
                                                     back from this artifact store, after
                                                     its digest is checked
===========  ======================================  =====================================

Each serialiser is deterministic, so equal values give equal digests whichever runner made them.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import orjson

from slipway.core.errors import IntegrityError, InvalidInput
from slipway.core.records import from_wire, to_wire

_JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY


def canonical_json(value: Any) -> bytes | None:
    """Canonical JSON of ``value``, or None when it is not JSON-able."""
    try:
        return orjson.dumps(to_wire(value), option=_JSON_OPTIONS)
    except TypeError:
        return None


def serialize(value: Any) -> tuple[str, bytes]:
    """The kind and bytes of ``value`` (see the module table)."""
    module = type(value).__module__
    if module.startswith("pyarrow"):
        import pyarrow as pa

        if isinstance(value, pa.Table):
            return "arrow", _parquet(value)
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            import pyarrow as pa

            return "pandas", _parquet(pa.Table.from_pandas(value, preserve_index=True))
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray) and value.dtype != object:
            buffer = io.BytesIO()
            np.save(buffer, value, allow_pickle=False)
            return "numpy", buffer.getvalue()
    encoded = canonical_json(value)
    if encoded is not None and _json_faithful(value):
        return "json", encoded
    return "pickle", pickle.dumps(value, protocol=5)


def split_outputs(names: tuple[str, ...], value: Any, step: str) -> list[Any]:
    """A step's return value as one value per declared output."""
    if len(names) == 1:
        return [value]
    if isinstance(value, dict) and set(value) == set(names):
        return [value[n] for n in names]
    if isinstance(value, tuple | list) and len(value) == len(names):
        return list(value)
    raise InvalidInput(f"step {step!r} declares outputs {list(names)} but returned {type(value).__name__}; "
                       f"return a tuple of {len(names)} values or a dict with those keys")


def encode_outputs(names: tuple[str, ...], value: Any, step: str) -> dict[str, tuple[str, bytes]]:
    """Each declared output of a step as (kind, bytes). Runs where the step ran, so a value is
    serialised as it was made, not after a trip through a pipe (pickle's memo could differ)."""
    return {n: serialize(part) for n, part in zip(names, split_outputs(names, value, step), strict=True)}


def deserialize(kind: str, data: bytes) -> Any:
    """The value of bytes written by :func:`serialize` as ``kind``."""
    if kind == "json":
        return from_wire(orjson.loads(data))
    if kind in ("arrow", "pandas"):
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
        return table.to_pandas() if kind == "pandas" else table
    if kind == "numpy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if kind == "pickle":
        return pickle.loads(data)  # noqa: S301 - our own blob, digest-checked on read
    raise IntegrityError(f"unknown artifact kind {kind!r}; was it written by a newer Slipway?")


def _parquet(table: Any) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _json_faithful(value: Any) -> bool:
    """Whether JSON brings ``value`` back as what it was (tuples and numpy values would change)."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(_json_faithful(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) for k in value) and all(_json_faithful(v) for v in value.values())
    import dataclasses

    return dataclasses.is_dataclass(value) and not isinstance(value, type) and hasattr(type(value), "__slots__")
