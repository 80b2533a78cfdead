"""A reference prepared once: each numeric column sorted, each categorical column counted.

Sorting the reference is most of the cost of a drift run; a prepared reference is stored as two
blobs (the sorted numeric matrix as ``.npy``, read back memory-mapped, and a JSON head with the
category counts), so a monitor never re-reads or re-sorts the training data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from slipway.core.errors import InvalidInput
from slipway.data.sketches import column_kind
from slipway.monitoring.columns import ParquetColumns
from slipway.monitoring.methods import CATEGORICAL, KINDS, NUMERIC

FORMAT = "slipway-drift-reference/1"


def kind_of(arrow_type: pa.DataType) -> str | None:
    """numeric | categorical | None (not tested for drift: times, lists, binary)."""
    kind = column_kind(arrow_type)
    if kind == "numeric" and not pa.types.is_boolean(arrow_type):
        return NUMERIC
    return CATEGORICAL if kind == "categorical" else None


def numeric_column(column: pa.ChunkedArray) -> np.ndarray:
    """A column as float64 with NaN for nulls and infinities (Evidently drops both)."""
    values = pc.fill_null(pc.cast(column, pa.float64()), float("nan")).to_numpy()
    return np.where(np.isfinite(values), values, np.nan)


def category_counts(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct non-null values of a column (as strings) and their counts."""
    counts = pc.value_counts(pc.drop_null(pc.cast(column, pa.string())))
    keys = np.asarray(counts.field("values").to_pylist(), dtype=object)
    values = np.asarray(counts.field("counts").to_numpy(), dtype=np.float64)
    order = np.argsort(keys.astype(str), kind="stable")
    return keys[order].astype(str), values[order]


@dataclass
class Reference:
    """The prepared reference: kinds per column, sorted numeric matrix, category counts."""

    rows: int
    kinds: dict[str, str]
    numeric: np.ndarray  # (numeric columns, rows): one sorted column per row, NaN last
    categories: dict[str, tuple[np.ndarray, np.ndarray]]

    @property
    def numeric_names(self) -> list[str]:
        return [name for name, kind in self.kinds.items() if kind == NUMERIC]

    @classmethod
    def of(cls, table: pa.Table | ParquetColumns, kinds: dict[str, str] | None = None) -> Reference:
        """Prepare ``table``; ``kinds`` overrides the kind of some columns (e.g. a numeric code as
        categorical).

        Raises:
            InvalidInput: an override names an unknown column or kind, or the table is empty.
        """
        if table.num_rows == 0:
            raise InvalidInput("the reference has no rows")
        chosen: dict[str, str] = {}
        for name in table.column_names:
            kind = kind_of(table.schema.field(name).type)
            if kind is not None:
                chosen[name] = kind
        for name, kind in (kinds or {}).items():
            if name not in table.column_names:
                raise InvalidInput(f"column {name!r} is not in the reference (columns: {table.column_names})")
            if kind not in KINDS:
                raise InvalidInput(f"kind {kind!r} for column {name!r} is not one of {', '.join(KINDS)}")
            if kind == NUMERIC and kind_of(table.schema.field(name).type) != NUMERIC:
                raise InvalidInput(f"column {name!r} is {table.schema.field(name).type}, it cannot be numeric")
            chosen[name] = kind
        names = [n for n, k in chosen.items() if k == NUMERIC]
        matrix = np.empty((len(names), table.num_rows))
        for j, name in enumerate(names):
            matrix[j] = np.sort(numeric_column(table.column(name)))
        categories = {n: category_counts(table.column(n)) for n, k in chosen.items() if k == CATEGORICAL}
        return cls(table.num_rows, chosen, matrix, categories)

    def head_bytes(self, numeric_digest: str) -> bytes:
        categories = {n: [keys.tolist(), counts.tolist()] for n, (keys, counts) in self.categories.items()}
        return orjson.dumps({"format": FORMAT, "rows": self.rows, "kinds": self.kinds,
                             "numeric": numeric_digest, "categories": categories})

    def numeric_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(self.numeric))
        return buffer.getvalue()

    @classmethod
    def from_head(cls, head: bytes, numeric: np.ndarray) -> Reference:
        try:
            body: dict[str, Any] = orjson.loads(head)
            if body.get("format") != FORMAT:
                raise ValueError(body.get("format"))
            categories = {n: (np.asarray(k, dtype=str), np.asarray(c, dtype=np.float64))
                          for n, (k, c) in body["categories"].items()}
            return cls(body["rows"], body["kinds"], numeric, categories)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise InvalidInput("blob is not a Slipway drift reference") from err
