"""Differences between two versions: files, rows by key, schema, and distribution shifts.

Rows are compared with DuckDB over the Arrow tables (an anti-join on the declared key, or a
multiset difference of whole rows when there is no key); distribution shifts are the PSI between
the two versions' stored profiles, so they cost no pass over the data.
"""

from __future__ import annotations

import math

import datasketches as ds
import duckdb
import numpy as np
import pyarrow as pa

from slipway.blobs.manifest import Manifest
from slipway.data.profile import TableProfile
from slipway.data.records import ColumnShift, FileChange, TableDiff
from slipway.data.sketches import ColumnSketch

BINS = 10
MAX_CATEGORIES = 200
EPS = 1e-4


def file_changes(old: Manifest, new: Manifest) -> list[FileChange]:
    before, after = old.by_path(), new.by_path()
    changes = [FileChange(p, "removed", before[p].digest, None) for p in sorted(before.keys() - after.keys())]
    changes += [FileChange(p, "added", None, after[p].digest) for p in sorted(after.keys() - before.keys())]
    changes += [FileChange(p, "changed", before[p].digest, after[p].digest)
                for p in sorted(before.keys() & after.keys()) if before[p].digest != after[p].digest]
    # Same bytes, other permissions: the manifest (and so the version) differs, so say why.
    changes += [FileChange(p, "mode", before[p].digest, after[p].digest)
                for p in sorted(before.keys() & after.keys())
                if before[p].digest == after[p].digest and before[p].mode != after[p].mode]
    return sorted(changes, key=lambda c: c.path)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def row_changes(old: pa.Table, new: pa.Table, keys: list[str]) -> tuple[int, int, int | None]:
    """(added, removed, changed) rows; ``changed`` needs a key (same key, different values)."""
    con = duckdb.connect()
    con.register("old_t", old)
    con.register("new_t", new)
    common = [c for c in new.column_names if c in old.column_names]
    if keys and all(k in common for k in keys):
        on = " AND ".join(f"n.{_quote(k)} = o.{_quote(k)}" for k in keys)
        added = con.execute(f"SELECT count(*) FROM new_t n ANTI JOIN old_t o ON {on}").fetchone()
        removed = con.execute(f"SELECT count(*) FROM old_t o ANTI JOIN new_t n ON {on}").fetchone()
        values = [c for c in common if c not in keys]
        changed_sql = " OR ".join(f"n.{_quote(c)} IS DISTINCT FROM o.{_quote(c)}" for c in values) or "FALSE"
        changed = con.execute(f"SELECT count(*) FROM new_t n JOIN old_t o ON {on} WHERE {changed_sql}").fetchone()
        return int(added[0]), int(removed[0]), int(changed[0])  # type: ignore[index]
    cols = ", ".join(_quote(c) for c in common) or "1"
    added = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM new_t EXCEPT ALL SELECT {cols} FROM old_t)").fetchone()
    removed = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM old_t EXCEPT ALL SELECT {cols} FROM new_t)").fetchone()
    return int(added[0]), int(removed[0]), None  # type: ignore[index]


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected, actual = np.clip(expected, EPS, None), np.clip(actual, EPS, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def column_shift(old: ColumnSketch, new: ColumnSketch) -> float | None:
    """PSI between two summaries of a column: decile bins of the old KLL sketch, or the categories."""
    if old.kind in ("numeric", "datetime") and not old.kll.is_empty() and not new.kll.is_empty():
        edges = sorted(set(old.kll.get_quantiles([i / BINS for i in range(1, BINS)])))
        if not edges:
            return 0.0
        return _psi(np.asarray(old.kll.get_pmf(edges)), np.asarray(new.kll.get_pmf(edges)))
    # An id-like text column (thousands of distinct values) has no distribution worth comparing.
    if old.kind == "categorical" and old.valid and new.valid and old.hll.get_estimate() <= MAX_CATEGORIES:
        kind = ds.frequent_items_error_type.NO_FALSE_NEGATIVES
        before = {i[0]: i[1] for i in old.freq.get_frequent_items(kind)}
        after = {i[0]: i[1] for i in new.freq.get_frequent_items(kind)}
        labels = sorted(before.keys() | after.keys())
        if not labels:
            return 0.0
        exp = np.array([before.get(x, 0) for x in labels], float) / old.valid
        act = np.array([after.get(x, 0) for x in labels], float) / new.valid
        return _psi(np.append(exp, max(0.0, 1 - exp.sum())), np.append(act, max(0.0, 1 - act.sum())))
    return None


def table_diff(path: str, old: pa.Table, new: pa.Table, keys: list[str],
               old_profile: TableProfile | None, new_profile: TableProfile | None, top: int = 5) -> TableDiff:
    added, removed, changed = row_changes(old, new, keys)
    old_types = {f.name: str(f.type) for f in old.schema}
    new_types = {f.name: str(f.type) for f in new.schema}
    shifts: list[ColumnShift] = []
    if old_profile and new_profile:
        for name, sketch in new_profile.columns.items():
            before = old_profile.columns.get(name)
            if before is None or before.kind != sketch.kind or name in keys:
                continue
            score = column_shift(before, sketch)
            if score is not None and math.isfinite(score):
                shifts.append(ColumnShift(path, name, "psi", round(score, 6)))
    shifts.sort(key=lambda s: -s.score)
    return TableDiff(
        table=path, key_columns=keys, rows_added=added, rows_removed=removed, rows_changed=changed,
        old_rows=old.num_rows, new_rows=new.num_rows,
        columns_added=[c for c in new_types if c not in old_types],
        columns_removed=[c for c in old_types if c not in new_types],
        type_changes={c: [old_types[c], new_types[c]] for c in new_types if c in old_types and old_types[c] != new_types[c]},
        shifted=shifts[:top],
    )
