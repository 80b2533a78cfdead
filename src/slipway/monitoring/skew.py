"""Training-serving skew: the same entity's features as served against the training row's.

When the served rows carry the training data's key column (an id the model's inputs include and
ignore, e.g. AI4I's ``UDI``), each logged row is joined to the training row with the same key, in
Arrow, and every other shared column is compared: numeric values differ when
``|served - training| > atol + rtol * |training|`` (``np.isclose``'s rule, ``rtol=tolerance``),
other values when they are not equal; a null on one side only is a mismatch. The report gives per
column the rows compared, the mismatched rows and their share, and for numeric columns the largest
absolute difference. A column whose mismatch share exceeds ``max_share`` is skewed: the online
feature pipeline does not compute what the offline one did.

:func:`find_key` names the key when none is given: a column both tables hold, integer or string,
unique and never null in the training data, whose served values are mostly (``MIN_MATCH``) training
keys. Rows must be aligned (one logged row per served row), so skew is computed on the payload log
or a table, never on a window rebuilt from counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.core.errors import InvalidInput

TOLERANCE = 1e-6  # relative
ATOL = 1e-9
MAX_SHARE = 0.01  # a column with more mismatched rows than this is skewed
MIN_MATCH = 0.5  # share of served keys found in the training data for a column to count as the key


@dataclass
class ColumnSkew:
    column: str
    compared: int
    mismatched: int
    share: float
    max_abs_diff: float | None
    skewed: bool


@dataclass
class SkewReport:
    """Per-column mismatch of served rows against the training rows of the same key."""

    key: str
    served_rows: int
    joined_rows: int
    tolerance: float
    max_share: float
    columns: list[ColumnSkew] = field(default_factory=list)

    @property
    def skewed_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.skewed]

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "served_rows": self.served_rows, "joined_rows": self.joined_rows,
                "tolerance": self.tolerance, "max_share": self.max_share, "skewed_columns": self.skewed_columns,
                "columns": [asdict(c) for c in self.columns]}


def _keyable(column: pa.ChunkedArray) -> bool:
    return pa.types.is_integer(column.type) or pa.types.is_string(column.type) or pa.types.is_large_string(column.type)


def find_key(training: pa.Table, served: pa.Table) -> str | None:
    """The training data's key column the served rows carry (see the module docstring), or None."""
    for name in served.column_names:
        if name not in training.column_names:
            continue
        keys, values = training.column(name), served.column(name)
        if not (_keyable(keys) and _keyable(values)) or keys.null_count or training.num_rows == 0:
            continue
        if len(pc.unique(keys)) != training.num_rows:
            continue
        present = pc.drop_null(values)
        if len(present) == 0:
            continue
        found = pc.sum(pc.is_in(present.cast(keys.type), value_set=pc.unique(keys))).as_py() or 0
        if found / len(present) >= MIN_MATCH:
            return name
    return None


def _numeric(column: pa.ChunkedArray) -> bool:
    return bool(pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
                or pa.types.is_decimal(column.type) or pa.types.is_boolean(column.type))


def training_serving_skew(training: pa.Table, served: pa.Table, key: str, columns: list[str] | None = None,
                          tolerance: float = TOLERANCE, max_share: float = MAX_SHARE) -> SkewReport:
    """Join ``served`` to ``training`` on ``key`` and compare ``columns`` (default: every other
    column both hold).

    Raises:
        InvalidInput: ``key`` missing from either table, or not unique in the training data; a
            negative tolerance.
    """
    for what, table in (("training", training), ("served", served)):
        if key not in table.column_names:
            raise InvalidInput(f"the {what} data has no key column {key!r}; it has {table.column_names}")
    if tolerance < 0 or not 0 <= max_share < 1:
        raise InvalidInput(f"tolerance must be >= 0 and max_share in [0, 1), not {tolerance!r}, {max_share!r}")
    if len(pc.unique(training.column(key))) != training.num_rows:
        raise InvalidInput(f"key {key!r} is not unique in the training data")
    names = [c for c in (columns or served.column_names) if c != key and c in training.column_names
             and c in served.column_names]
    left = pa.table({key: served.column(key).cast(training.column(key).type),
                     **{f"s.{c}": served.column(c) for c in names}})
    right = pa.table({key: training.column(key), **{f"t.{c}": training.column(c) for c in names}})
    joined = left.join(right, key, join_type="inner")
    report = SkewReport(key, served.num_rows, joined.num_rows, tolerance, max_share)
    for name in names:
        s, t = joined.column(f"s.{name}"), joined.column(f"t.{name}")
        s_null, t_null = (np.asarray(c.is_null().to_numpy(zero_copy_only=False), dtype=bool) for c in (s, t))
        both = ~s_null & ~t_null
        largest = None
        if _numeric(s) and _numeric(t):
            a = np.asarray(s.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
            b = np.asarray(t.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
            with np.errstate(invalid="ignore"):
                differ = both & ~np.isclose(a, b, rtol=tolerance, atol=ATOL, equal_nan=True)
            largest = float(np.max(np.abs(a[both] - b[both]))) if both.any() else None
        else:
            equal = pc.equal(s.cast(pa.string()), t.cast(pa.string()))
            differ = both & ~np.asarray(pc.fill_null(equal, True).to_numpy(zero_copy_only=False), dtype=bool)
        mismatched = int((differ | (s_null != t_null)).sum())
        share = mismatched / joined.num_rows if joined.num_rows else 0.0
        report.columns.append(ColumnSkew(name, joined.num_rows, mismatched, share, largest, share > max_share))
    return report
