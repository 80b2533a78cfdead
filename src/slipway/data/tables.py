"""Reading tables with Arrow: CSV, TSV and Parquet files, pandas frames, and Parquet encoding."""

from __future__ import annotations

import io
import os
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from slipway.core.errors import InvalidInput
from slipway.data.tables_light import TABULAR_SUFFIXES, is_tabular

__all__ = ["TABULAR_SUFFIXES", "as_arrow", "is_tabular", "read_table", "to_parquet_bytes"]


def read_table(source: str | os.PathLike[str] | bytes, name: str) -> pa.Table:
    """Read a CSV/TSV/Parquet file (or its bytes); ``name`` picks the format by its suffix.

    Raises:
        InvalidInput: the bytes are not a readable table of that format.
    """
    handle: Any = pa.BufferReader(source) if isinstance(source, bytes) else os.fspath(source)
    lowered = name.lower()
    try:
        if lowered.endswith((".parquet", ".pq")):
            return pq.read_table(handle)
        delimiter = "\t" if lowered.endswith(".tsv") else ","
        return pa_csv.read_csv(handle, parse_options=pa_csv.ParseOptions(delimiter=delimiter))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as err:
        raise InvalidInput(f"cannot read {name} as a table: {err}") from err


def as_arrow(data: Any) -> pa.Table:
    """A pandas DataFrame or an Arrow table as an Arrow table (the index is not kept)."""
    if isinstance(data, pa.Table):
        return data
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise InvalidInput(f"expected a path, a pandas DataFrame or a pyarrow Table, got {type(data).__name__}")


def to_parquet_bytes(table: pa.Table) -> bytes:
    """Encode ``table`` as Parquet; the same table gives the same bytes, so re-adding it is a no-op."""
    sink = io.BytesIO()
    # Pandas metadata would make equal tables from different frames hash differently.
    pq.write_table(table.replace_schema_metadata(None), sink, compression="zstd")
    return sink.getvalue()
