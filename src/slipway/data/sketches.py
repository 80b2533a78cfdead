"""One column's mergeable summary: exact counts and moments plus Apache DataSketches.

Numbers (and times, as epoch milliseconds) get a KLL sketch for quantiles; every column gets an
HLL sketch for its distinct count; text and booleans get a frequent-items sketch. Two summaries of
disjoint partitions merge into the summary of their union, within the sketches' error bounds.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KLL_K = 200
HLL_LG_K = 12
FREQ_LG_MAX = 8
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP = 10


def column_kind(arrow_type: pa.DataType) -> str:
    """numeric | datetime | categorical | other: how a column is summarised and validated."""
    if pa.types.is_boolean(arrow_type):
        return "categorical"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "datetime"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_dictionary(arrow_type):
        return "categorical"
    return "other"


def numeric_values(column: pa.ChunkedArray, kind: str) -> np.ndarray:
    """The non-null values of a numeric or datetime column as float64 (times in epoch ms)."""
    valid = pc.drop_null(column)
    if kind == "datetime":
        valid = pc.cast(pc.cast(valid, pa.timestamp("ms")), pa.int64())
    return np.asarray(valid.to_numpy(zero_copy_only=False), dtype=np.float64)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


class ColumnSketch:
    """The mergeable state of one column."""

    def __init__(self, arrow_type: str, kind: str) -> None:
        self.arrow_type = arrow_type
        self.kind = kind
        self.count = 0
        self.nulls = 0
        self.mean = 0.0
        self.m2 = 0.0  # sum of squared deviations (Chan et al.'s parallel variance)
        self.min: float | None = None
        self.max: float | None = None
        self.kll = ds.kll_doubles_sketch(KLL_K)
        self.hll = ds.hll_sketch(HLL_LG_K)
        self.freq = ds.frequent_strings_sketch(FREQ_LG_MAX)

    @classmethod
    def of(cls, column: pa.ChunkedArray) -> ColumnSketch:
        kind = column_kind(column.type)
        sketch = cls(str(column.type), kind)
        sketch.count = len(column)
        sketch.nulls = column.null_count
        if kind in ("numeric", "datetime"):
            values = numeric_values(column, kind)
            values = values[np.isfinite(values)]
            if values.size:
                sketch.kll.update(values)
                sketch.mean = float(values.mean())
                sketch.m2 = float(((values - sketch.mean) ** 2).sum())
                sketch.min, sketch.max = float(values.min()), float(values.max())
                for value in np.unique(values).tolist():
                    sketch.hll.update(value)
        elif kind == "categorical":
            counts = pc.value_counts(pc.cast(pc.drop_null(column), pa.string()))
            for item in counts.to_pylist():
                sketch.freq.update(item["values"], item["counts"])
                sketch.hll.update(item["values"])
        return sketch

    @property
    def valid(self) -> int:
        return self.count - self.nulls

    def merge(self, other: ColumnSketch) -> ColumnSketch:
        merged = ColumnSketch(self.arrow_type, self.kind)
        merged.count, merged.nulls = self.count + other.count, self.nulls + other.nulls
        n_a, n_b = self.kll.n, other.kll.n
        if n_a + n_b:
            delta = other.mean - self.mean
            merged.mean = self.mean + delta * n_b / (n_a + n_b)
            merged.m2 = self.m2 + other.m2 + delta * delta * n_a * n_b / (n_a + n_b)
        bounds = [v for v in (self.min, other.min) if v is not None]
        merged.min = min(bounds) if bounds else None
        bounds = [v for v in (self.max, other.max) if v is not None]
        merged.max = max(bounds) if bounds else None
        merged.kll.merge(self.kll)
        merged.kll.merge(other.kll)
        union = ds.hll_union(HLL_LG_K)
        union.update(self.hll)
        union.update(other.hll)
        merged.hll = union.get_result()
        merged.freq.merge(self.freq)
        merged.freq.merge(other.freq)
        return merged

    def summary(self) -> dict[str, Any]:
        """Plain numbers for people and reports (what ``data show`` prints)."""
        out: dict[str, Any] = {
            "type": self.arrow_type, "kind": self.kind, "count": self.count, "nulls": self.nulls,
            "null_share": self.nulls / self.count if self.count else 0.0,
            # An estimate (HLL, ~1-2 % error), never more than the non-null values it counts.
            "distinct": min(round(self.hll.get_estimate()), self.count - self.nulls),
        }
        if self.kind in ("numeric", "datetime") and not self.kll.is_empty():
            std = math.sqrt(self.m2 / (self.kll.n - 1)) if self.kll.n > 1 else 0.0
            out.update(min=self.min, max=self.max, mean=self.mean, std=std,
                       quantiles={str(q): self.kll.get_quantile(q) for q in QUANTILES})
        if self.kind == "categorical":
            items = self.freq.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_POSITIVES)
            out["top"] = [[item[0], item[1]] for item in items[:TOP]]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.arrow_type, "kind": self.kind, "count": self.count, "nulls": self.nulls,
            "mean": self.mean, "m2": self.m2, "min": self.min, "max": self.max,
            "kll": _b64(self.kll.serialize()), "hll": _b64(self.hll.serialize_compact()),
            "freq": _b64(self.freq.serialize()),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ColumnSketch:
        sketch = cls(body["type"], body["kind"])
        sketch.count, sketch.nulls = body["count"], body["nulls"]
        sketch.mean, sketch.m2, sketch.min, sketch.max = body["mean"], body["m2"], body["min"], body["max"]
        sketch.kll = ds.kll_doubles_sketch.deserialize(_unb64(body["kll"]))
        sketch.hll = ds.hll_sketch.deserialize(_unb64(body["hll"]))
        sketch.freq = ds.frequent_strings_sketch.deserialize(_unb64(body["freq"]))
        return sketch
