"""Validating a table against a schema: a typed list of anomalies, each with the share of rows.

The checks are vectorised with Arrow compute; nothing loops over rows in Python.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from slipway.core.clock import iso, now_ms
from slipway.data.records import Anomaly
from slipway.data.schema import DAY_MS
from slipway.data.sketches import column_kind, numeric_values

# Arrow's 64-bit-offset and view layouts hold the same values: pandas 3 writes every string column
# as large_string, so a week saved with pandas is not a type change from a CSV's string.
_SAME_VALUES = {"large_string": "string", "string_view": "string", "large_utf8": "string", "utf8": "string",
                "large_binary": "binary", "binary_view": "binary"}


def _compatible(expected: str, actual: pa.DataType) -> str | None:
    """None when the types agree, else the severity of the change (int -> float only warns)."""
    if _SAME_VALUES.get(str(actual), str(actual)) == _SAME_VALUES.get(expected, expected):
        return None
    numeric = ("int", "uint", "float", "double", "decimal")
    if expected.startswith(numeric) and column_kind(actual) == "numeric":
        return "warning"
    return "error"


def _check_column(name: str, spec: dict[str, Any], column: pa.ChunkedArray, rows: int) -> list[Anomaly]:
    found: list[Anomaly] = []
    severity = _compatible(spec["type"], column.type)
    if severity:
        found.append(Anomaly("type_changed", name, severity, None, f"expected {spec['type']}, found {column.type}"))
        if severity == "error":
            return found
    null_share = column.null_count / rows if rows else 0.0
    limit = float(spec.get("max_null_share", 0.0))
    if null_share > limit:
        found.append(Anomaly("null_share", name, "error", null_share,
                             f"{column.null_count} of {rows} values are null ({null_share:.2%}); the limit is {limit:.2%}"))
    kind = column_kind(column.type)
    if ("min" in spec or "max" in spec) and kind in ("numeric", "datetime"):
        values = numeric_values(column, kind)
        lo, hi = float(spec.get("min", float("-inf"))), float(spec.get("max", float("inf")))
        outside = int(((values < lo) | (values > hi)).sum())
        share = outside / rows if rows else 0.0
        allowed = float(spec.get("max_out_of_range_share", 0.0))
        if outside and share > allowed:
            found.append(Anomaly("out_of_range", name, "error", share,
                                 f"{outside} of {rows} values ({share:.2%}) are outside [{lo:g}, {hi:g}]; "
                                 f"observed [{values.min():g}, {values.max():g}]"))
    if "categories" in spec and kind == "categorical":
        known = pa.array([str(c) for c in spec["categories"]], pa.string())
        strings = pc.cast(pc.drop_null(column), pa.string())
        unseen_mask = pc.invert(pc.is_in(strings, value_set=known))
        unseen = int(pc.sum(unseen_mask).as_py() or 0)
        if unseen:
            share = unseen / rows
            examples = pc.unique(pc.filter(strings, unseen_mask)).to_pylist()[:5]
            allowed = float(spec.get("max_unseen_share", 0.0))
            found.append(Anomaly("unseen_category", name, "error" if share > allowed else "warning", share,
                                 f"{unseen} of {rows} values ({share:.2%}) are not in the domain, e.g. {examples}"))
    return found


def validate_table(table: pa.Table, schema: dict[str, Any], at_ms: int | None = None) -> list[Anomaly]:
    """Every anomaly of ``table`` against ``schema`` (see :mod:`slipway.data.schema`), in column order."""
    rows = table.num_rows
    columns: dict[str, dict[str, Any]] = schema["columns"]
    anomalies: list[Anomaly] = []
    present = set(table.column_names)
    for name, spec in columns.items():
        if name not in present:
            severity = "error" if spec.get("required", True) else "warning"
            anomalies.append(Anomaly("missing_column", name, severity, None, f"column {name!r} is missing"))
            continue
        anomalies.extend(_check_column(name, spec, table.column(name), rows))
    for name in table.column_names:
        if name not in columns:
            anomalies.append(Anomaly("extra_column", name, "warning", None,
                                     f"column {name!r} ({table.column(name).type}) is not in the schema"))
    min_rows = int(schema.get("min_rows", 0))
    if rows < min_rows:
        anomalies.append(Anomaly("too_few_rows", None, "error", None, f"{rows} rows; the schema needs at least {min_rows}"))
    freshness = schema.get("freshness")
    if freshness and freshness["column"] in present:
        column = table.column(freshness["column"])
        kind = column_kind(column.type)
        values = numeric_values(column, kind) if kind in ("numeric", "datetime") else None
        newest = float(values.max()) if values is not None and values.size else None
        limit_ms = float(freshness["max_age_days"]) * DAY_MS
        now = at_ms if at_ms is not None else now_ms()
        if newest is None or now - newest > limit_ms:
            when = iso(int(newest)) if newest is not None else "never"
            anomalies.append(Anomaly("stale_data", freshness["column"], "error", None,
                                     f"newest {freshness['column']} is {when}; older than {freshness['max_age_days']} days"))
    return anomalies
