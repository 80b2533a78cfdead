"""The digest of a training set: BLAKE3 of the Arrow IPC stream of X (and y).

Two fits on the same data get the same digest, so a run records exactly which data trained it
without storing the data. The digest is recorded as a run input named ``training-data``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from slipway.core.hashing import hash_bytes

TRAINING_DATA = "training-data"


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """A dataset reference for ``tracking.log_input``: a name, no version, and the data's digest."""

    name: str
    version: int | None
    digest: str


def _dense(data: Any) -> Any:
    if hasattr(data, "toarray"):  # scipy sparse
        return data.toarray()
    return data


def to_arrow(X: Any, y: Any = None) -> pa.Table:
    """``X`` (DataFrame, array, sparse matrix, Arrow table) with ``y`` as a last column ``__target__``."""
    X = _dense(X)
    if isinstance(X, pa.Table):
        table = X
    elif isinstance(X, pd.DataFrame):
        table = pa.Table.from_pandas(X, preserve_index=False)
    else:
        array = np.asarray(X)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        table = pa.table({f"f{i}": array[:, i] for i in range(array.shape[1])})
    if y is not None:
        target = _dense(y)
        target = target.to_numpy() if isinstance(target, pd.Series | pd.DataFrame) else np.asarray(target)
        if target.ndim == 1 and len(target) == table.num_rows:
            table = table.append_column("__target__", pa.array(target))
    return table


def training_digest(X: Any, y: Any = None) -> str:
    """The BLAKE3 digest of the Arrow IPC stream of ``X`` and ``y``."""
    table = to_arrow(X, y)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hash_bytes(memoryview(sink.getvalue()))


def example_rows(X: Any, rows: int = 5) -> Any:
    """The first rows of ``X`` as an input example (None when it has no usable shape)."""
    X = _dense(X)
    if isinstance(X, pd.DataFrame):
        return X.head(rows)
    if isinstance(X, pa.Table):
        return X.slice(0, rows)
    try:
        array = np.asarray(X)
    except Exception:
        return None
    return array[:rows] if array.ndim >= 1 and array.dtype.kind != "O" else None
