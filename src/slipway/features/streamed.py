"""The point-in-time join as a streamed sort-merge (fast path ``features.streamed_join``).

The entity table is held as NumPy arrays (its join key mapped to a dense id, its time in
microseconds); each view's rows stream from DuckDB in batches of :data:`BATCH_ROWS` (only rows
with a key and a time, and a time the entity rows can use), and for each batch: the rows are
sorted by (entity id, event time, created time) packed into one int64, each entity row finds the
last row at or before its time with NumPy's ``searchsorted``, and that candidate replaces the
entity row's best so far when its (event, created) pair is later. After the last batch, a best
row older than the TTL becomes null. Memory is the entity table plus one batch, whatever the
size of the views; the answer is the DuckDB ASOF join's (:mod:`slipway.features.offline`), row
for row (``tests/features/test_training_sets.py`` runs both).

It answers the common case and declines the rest (the caller then runs DuckDB's join): one
integer join key per view, int/float/bool features, no ``created_before_row``, a created time
that is never null, and keys x time span that fit in an int64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.features.offline import ROW, ViewJoin, typed
from slipway.features.sources import ident

BATCH_ROWS = 500_000
STREAM_MEMORY_BYTES = 256 * 2**20
_NUMERIC = {"int32": pa.int32(), "int64": pa.int64(), "float32": pa.float32(), "float64": pa.float64(),
            "bool": pa.bool_()}
_LIMIT = 2**62


class Declined(Exception):
    """This join is not one the streamed path answers; use DuckDB's."""


def _us(expression: str) -> str:
    return f"epoch_us(CAST({expression} AS TIMESTAMPTZ))"


def _integer(con: Any, relation: str, column: str) -> bool:
    kinds = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT {ident(column)} FROM {relation}").fetchall()}
    return str(kinds.get(column, "")).upper() in {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT",
                                                  "USMALLINT", "UINTEGER"}


def streamed_join(con: Any, entities: str, timestamp: str, joins: list[ViewJoin]) -> pa.Table:
    """The point-in-time join of ``entities`` (numbered by ``ROW``) with ``joins``: the entity
    table's columns, in its row order, then each view's feature columns.

    Raises:
        Declined: a case this path does not answer (see the module docstring).
    """
    for view in joins:
        if len(view.keys) != 1 or any(f["dtype"] not in _NUMERIC for f in view.spec["features"]
                                      if f["name"] in view.features):
            raise Declined("keys or feature types")
        if not _integer(con, entities, view.keys[0]) or not _integer(con, view.relation, view.keys[0]):
            raise Declined("non-integer join key")
    table = con.sql(f"SELECT * EXCLUDE ({ROW}), {_us(ident(timestamp))} AS __t FROM {entities} ORDER BY {ROW}"
                    ).to_arrow_table()
    times = table.column("__t")
    table = table.drop_columns(["__t"])
    et_null = times.is_null().to_numpy(zero_copy_only=False)
    et = pc.fill_null(times, 0).to_numpy().astype(np.int64, copy=False)
    # The view rows stream in any order (each batch is sorted here): DuckDB need not buffer them
    # to keep the file's order. Restored after, for the joins that number rows by that order.
    # DuckDB's buffer pool needs little for a streamed scan: a small limit keeps the process's
    # peak at the entity table plus a batch (a user's memory_limit below it is kept).
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = false")
    if _bytes(limit) > STREAM_MEMORY_BYTES:
        con.execute(f"SET memory_limit = '{STREAM_MEMORY_BYTES // 2**20}MB'")
    try:
        for view in joins:
            for name, column in _view(con, table, et, et_null, view):
                table = table.append_column(name, column)
    finally:
        con.execute("SET preserve_insertion_order = true")
        con.execute(f"SET memory_limit = '{limit}'")
    return table


def _bytes(setting: str) -> float:
    """DuckDB's spelling of a size (``'1.5 GiB'``, ``'256.0 MiB'``) in bytes; unknown: infinite."""
    number, _, unit = str(setting).strip().partition(" ")
    scale = {"B": 1, "BYTES": 1, "KB": 1e3, "KIB": 2**10, "MB": 1e6, "MIB": 2**20, "GB": 1e9, "GIB": 2**30,
             "TB": 1e12, "TIB": 2**40}.get(unit.strip().upper())
    try:
        return float(number) * scale if scale else float("inf")
    except ValueError:
        return float("inf")


def _view(con: Any, table: pa.Table, et: np.ndarray, et_null: np.ndarray, view: ViewJoin) -> list[tuple[str, pa.Array]]:
    spec, key = view.spec, view.keys[0]
    ttl_us = int(spec["ttl_seconds"]) * 1_000_000 if spec.get("ttl_seconds") else None
    keys = table.column(key)
    ek_null = keys.is_null().to_numpy(zero_copy_only=False) | et_null
    ek = pc.fill_null(keys, 0).to_numpy().astype(np.int64, copy=False)
    unique = np.unique(ek[~ek_null])
    n = len(et)
    if not len(unique):
        return [(c, pa.nulls(n, _NUMERIC[_dtype(spec, f)])) for f, c in zip(view.features, view.columns, strict=True)]
    usable = ~ek_null
    hi = int(et[usable].max())
    ts = _us(ident(spec["timestamp"]))
    if ttl_us is not None:
        lo = int(et[usable].min()) - ttl_us
    else:
        found = con.execute(f"SELECT min({ts}) FROM {view.relation}").fetchall()[0][0]
        lo = int(found) if found is not None else hi
    span = hi - lo + 2
    kmin, kmax = int(unique[0]), int(unique[-1])
    if (kmax - kmin + 1) * span < _LIMIT:
        mapping: np.ndarray | None = None  # the key itself, from kmin, is the id: no lookup per row
        eid = ek - kmin
    elif len(unique) * span < _LIMIT:
        mapping, eid = unique, np.searchsorted(unique, ek)
    else:
        raise Declined("keys x time span do not fit an int64")
    created = spec.get("created_timestamp")
    cols = [f"CAST({ident(key)} AS BIGINT) AS k", f"{ts} AS t",
            f"{_us(ident(created))} AS c" if created else "0::BIGINT AS c",
            *(f"{typed(spec, f)} AS v{i}" for i, f in enumerate(view.features))]
    where = (f"{ident(key)} BETWEEN {kmin} AND {kmax} AND {ts} IS NOT NULL AND {ts} <= {hi} AND {ts} >= {lo}")
    reader = con.sql(f"SELECT {', '.join(cols)} FROM {view.relation} WHERE {where}").to_arrow_reader(BATCH_ROWS)
    # Each entity row's composite (id, time); rows without key or time, or before lo, find nothing.
    target = np.where(usable & (et >= lo), eid * span + (et - lo) + 1, -1)
    # Entity rows are worked on in composite order (NumPy's binary search is much faster on
    # increasing needles) and put back in their own order at the end.
    ranked = np.argsort(target)
    targets = (target[ranked], ranked)
    best_t = np.full(n, np.iinfo(np.int64).min, np.int64)
    best_c = np.full(n, np.iinfo(np.int64).min, np.int64)
    values = [np.zeros(n, _numpy(spec, f)) for f in view.features]
    nulls = [np.ones(n, bool) for _ in view.features]
    import duckdb

    try:
        for batch in reader:
            _merge(batch, (kmin, mapping), span, lo, targets, best_t, best_c, values, nulls, bool(created))
    except duckdb.OutOfMemoryException as err:  # a very wide view under the stream's small limit
        raise Declined(f"out of memory: {err}") from None
    finally:
        reader.close()
    back = np.empty_like(ranked)
    back[ranked] = np.arange(n)
    best_t = best_t[back]
    found = best_t != np.iinfo(np.int64).min
    if ttl_us is not None:
        found &= best_t >= et - ttl_us
    out = []
    for i, (feature, name) in enumerate(zip(view.features, view.columns, strict=True)):
        out.append((name, pa.array(values[i][back], _NUMERIC[_dtype(spec, feature)], mask=~found | nulls[i][back])))
    return out


def _merge(batch: pa.RecordBatch, keys: tuple[int, np.ndarray | None], span: int, lo: int,
           targets: tuple[np.ndarray, np.ndarray], best_t: np.ndarray, best_c: np.ndarray, values: list[np.ndarray],
           nulls: list[np.ndarray], created: bool) -> None:
    """Let each entity row take this batch's latest row at or before its time, if it is later
    (event, then created time) than its best so far. ``keys``: the smallest key and, when keys
    are not their own ids, the sorted distinct keys; ``targets``: the entity rows' composites,
    sorted, and the permutation that sorts them."""
    if not batch.num_rows:
        return
    if created and batch.column(2).null_count:
        raise Declined("a null created time")
    kmin, mapping = keys
    k = batch.column(0).to_numpy()
    if mapping is None:
        fid = k - kmin
        rows = None
    else:
        fid = np.searchsorted(mapping, k)
        keep = fid < len(mapping)
        keep[keep] = mapping[fid[keep]] == k[keep]
        if not keep.any():
            return
        rows = np.flatnonzero(keep)
    t = batch.column(1).to_numpy()
    c = batch.column(2).to_numpy()
    if rows is not None:
        fid, t, c = fid[rows], t[rows], c[rows]
    composite = fid * span + (t - lo) + 1
    order = _order(composite, c)
    composite = composite[order]
    target = targets[0]  # sorted: the best-so-far arrays are in this order too (see _view)
    pos = np.searchsorted(composite, target, side="right") - 1
    hit = (pos >= 0) & (target >= 0)
    hit[hit] = composite[pos[hit]] // span == target[hit] // span  # the same entity id
    picked = order[pos[hit]]
    who = np.flatnonzero(hit)
    cand_t, cand_c = t[picked], c[picked]
    better = (cand_t > best_t[who]) | ((cand_t == best_t[who]) & (cand_c > best_c[who]))
    who, picked = who[better], picked[better] if rows is None else rows[picked[better]]
    best_t[who], best_c[who] = cand_t[better], cand_c[better]
    for i in range(len(values)):
        column = batch.column(3 + i)
        taken = column.take(pa.array(picked))
        nulls[i][who] = taken.is_null().to_numpy(zero_copy_only=False)
        values[i][who] = pc.fill_null(taken, False if pa.types.is_boolean(taken.type) else 0).to_numpy(
            zero_copy_only=False)


def _order(composite: np.ndarray, created: np.ndarray) -> np.ndarray:
    """The permutation sorting rows by (composite, created): one sort of the composite, then the
    rows tied on it (rare: the same entity and event time) re-sorted by created time."""
    order = np.argsort(composite)
    ranked = composite[order]
    tied = np.flatnonzero(ranked[1:] == ranked[:-1])
    if len(tied):
        at = np.unique(np.concatenate([tied, tied + 1]))  # every position inside a run of ties
        rows = order[at]
        order[at] = rows[np.lexsort((created[rows], composite[rows]))]
    return order


def _dtype(spec: dict[str, Any], feature: str) -> str:
    return str(next(f["dtype"] for f in spec["features"] if f["name"] == feature))


def _numpy(spec: dict[str, Any], feature: str) -> Any:
    return _NUMERIC[_dtype(spec, feature)].to_pandas_dtype()
