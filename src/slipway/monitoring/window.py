"""A current window as mergeable partial results: read in partitions, merged, tested once.

A :class:`WindowPartial` holds, per numeric column, its sorted distinct values with their counts
and the number of missing values, and per categorical column its category counts: the empirical
distribution, exactly. Every drift test and quality check depends on the data only through it
(they are invariant to row order), so partials of any split of the rows merge
(:func:`merge_partials`) into the same result as one pass over all of them. A partition is
summarised where it is read (a payload segment here; a Ray task or a worker process just as
well: a partial is plain NumPy arrays and pickles), and only the partials travel.

Memory is bounded by the window's distinct values, not by the length of the log it is read
from: repeated values (integers, sensors with a resolution, categories) take one entry each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from slipway.monitoring.counts import union_counts
from slipway.monitoring.reference import category_counts, kind_of, numeric_column


@dataclass
class Counted:
    """One column's distribution: sorted distinct ``keys``, their ``counts``, and ``missing``."""

    keys: np.ndarray
    counts: np.ndarray
    missing: int

    def merge(self, other: Counted) -> Counted:
        keys, a, b = union_counts(self.keys, self.counts, other.keys, other.counts)
        return Counted(keys, (a + b).astype(np.int64), self.missing + other.missing)


@dataclass
class WindowPartial:
    """The summary of some rows of a window (see the module docstring)."""

    rows: int
    schema: pa.Schema
    kinds: dict[str, str]
    counted: dict[str, Counted]
    other: dict[str, list[pa.ChunkedArray]] = field(default_factory=dict)  # untested columns, kept as they are
    labels: dict[str, str] = field(default_factory=dict)  # what served the rows (deployment, model, version)

    @classmethod
    def of(cls, table: pa.Table) -> WindowPartial:
        """Summarise ``table`` (numeric and categorical columns counted, others kept)."""
        kinds: dict[str, str] = {}
        counted: dict[str, Counted] = {}
        other: dict[str, list[pa.ChunkedArray]] = {}
        for name in table.column_names:
            column = table.column(name)
            kind = kind_of(column.type)
            if kind == "numeric":
                values = numeric_column(column)
                missing = np.isnan(values)
                keys, counts = np.unique(values[~missing], return_counts=True)
                counted[name] = Counted(keys, counts.astype(np.int64), int(missing.sum()))
            elif kind == "categorical":
                keys, counts = category_counts(column)
                counted[name] = Counted(keys, counts.astype(np.int64), column.null_count)
            else:
                other[name] = [column]
                continue
            kinds[name] = kind
        return cls(table.num_rows, table.schema, kinds, counted, other)

    def merge(self, other: WindowPartial) -> WindowPartial:
        """This partial and ``other`` as one (columns absent from one side count as missing there)."""
        schema = pa.unify_schemas([self.schema, other.schema], promote_options="permissive")
        counted: dict[str, Counted] = {}
        for name in schema.names:
            if name in self.counted or name in other.counted:
                mine = self.counted.get(name) or _all_missing(self.rows, other.counted[name])
                theirs = other.counted.get(name) or _all_missing(other.rows, mine)
                counted[name] = mine.merge(theirs)
        kept = {n: self.other.get(n, []) + other.other.get(n, []) for n in {*self.other, *other.other}}
        labels = {k: ",".join(sorted({*self.labels.get(k, "").split(","), *other.labels.get(k, "").split(",")} - {""}))
                  for k in {*self.labels, *other.labels}}
        return WindowPartial(self.rows + other.rows, schema, {**other.kinds, **self.kinds}, counted, kept, labels)

    @property
    def column_names(self) -> list[str]:
        return list(self.schema.names)

    @property
    def num_rows(self) -> int:
        return self.rows

    def column(self, name: str) -> pa.ChunkedArray:
        """The column rebuilt from its counts (sorted, missing values last), in its Arrow type."""
        wanted = self.schema.field(name).type
        if name in self.other:
            return pa.chunked_array([c.cast(wanted) for part in self.other[name] for c in part.chunks], wanted)
        c = self.counted[name]
        values = np.repeat(c.keys, c.counts)
        if self.kinds[name] == "numeric":
            full = np.concatenate([values.astype(np.float64), np.full(c.missing, np.nan)])
            array = pa.array(full, mask=np.isnan(full))
        else:
            array = pa.array(np.concatenate([values.astype(object), np.full(c.missing, None, dtype=object)]),
                             pa.string())
        return pa.chunked_array([array.cast(wanted)])

    def category_counts(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """What :func:`slipway.monitoring.reference.category_counts` gives on the whole column."""
        c = self.counted[name]
        return c.keys.astype(str), c.counts.astype(np.float64)

    def table(self) -> pa.Table:
        """Every column rebuilt (for checks that want a table, such as data quality)."""
        return pa.table({name: self.column(name) for name in self.schema.names}, schema=self.schema)


def _all_missing(rows: int, like: Counted) -> Counted:
    return Counted(like.keys[:0], like.counts[:0], rows)


def merge_partials(partials: Iterable[WindowPartial]) -> WindowPartial | None:
    """Merge the partials of a split (in any order); None when there are none."""
    merged: WindowPartial | None = None
    for partial in partials:
        merged = partial if merged is None else merged.merge(partial)
    return merged
