"""Profiles: per-column summaries of a table, built from mergeable sketches.

A :class:`TableProfile` of partition A merged with the profile of partition B equals the profile
of A + B within sketch error, so monitoring and pipelines can profile partitions in parallel.
A version's profile blob holds one table profile per tabular file.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa

from slipway.core.errors import InvalidInput
from slipway.data.sketches import ColumnSketch

MAGIC = "slipway-profile/1"


class TableProfile:
    """Row count and one :class:`ColumnSketch` per column, in column order."""

    def __init__(self, rows: int, columns: dict[str, ColumnSketch]) -> None:
        self.rows = rows
        self.columns = columns

    @classmethod
    def of(cls, table: pa.Table) -> TableProfile:
        """Profile every column of ``table`` (vectorised through Arrow and NumPy)."""
        return cls(table.num_rows, {name: ColumnSketch.of(table.column(name)) for name in table.column_names})

    def merge(self, other: TableProfile) -> TableProfile:
        """The profile of both partitions together; columns must agree in name and type.

        Raises:
            InvalidInput: the two partitions have different columns or types.
        """
        if list(self.columns) != list(other.columns):
            raise InvalidInput(f"cannot merge profiles with different columns: {list(self.columns)} vs {list(other.columns)}")
        for name, sketch in self.columns.items():
            if sketch.arrow_type != other.columns[name].arrow_type:
                raise InvalidInput(f"cannot merge profiles: column {name!r} is {sketch.arrow_type} in one and "
                                   f"{other.columns[name].arrow_type} in the other")
        merged = {name: sketch.merge(other.columns[name]) for name, sketch in self.columns.items()}
        return TableProfile(self.rows + other.rows, merged)

    def summary(self) -> dict[str, dict[str, Any]]:
        return {name: sketch.summary() for name, sketch in self.columns.items()}

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": [[name, s.to_json()] for name, s in self.columns.items()]}

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> TableProfile:
        return cls(body["rows"], {name: ColumnSketch.from_json(col) for name, col in body["columns"]})

    def to_bytes(self) -> bytes:
        return orjson.dumps({"format": MAGIC, "tables": {"": self.to_json()}})


def profiles_to_bytes(tables: dict[str, TableProfile]) -> bytes:
    """Serialise the table profiles of a version (keyed by file path) as one blob."""
    return orjson.dumps({"format": MAGIC, "tables": {path: p.to_json() for path, p in sorted(tables.items())}})


def profiles_from_bytes(data: bytes) -> dict[str, TableProfile]:
    try:
        body = orjson.loads(data)
        if body.get("format") != MAGIC:
            raise ValueError(body.get("format"))
        return {path: TableProfile.from_json(t) for path, t in body["tables"].items()}
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as err:
        raise InvalidInput("blob is not a Slipway profile") from err
