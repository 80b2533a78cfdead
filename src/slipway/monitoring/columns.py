"""A Parquet file read one column at a time: drift runs keep one column of the file in memory
at once instead of the whole table (Parquet stores columns apart, so each read touches only the
bytes of that column)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


class ParquetColumns:
    """The part of :class:`pyarrow.Table`'s interface a drift run uses, read lazily from a file."""

    def __init__(self, path: str | Path) -> None:
        self._file = pq.ParquetFile(path)
        self.schema: pa.Schema = self._file.schema_arrow
        self.column_names: list[str] = self.schema.names
        self.num_rows: int = self._file.metadata.num_rows

    def column(self, name: str) -> pa.ChunkedArray:
        return self._file.read(columns=[name]).column(0)
