"""The point-in-time join as a streamed merge (fast path ``features.streamed_join``).

The entity table is held as NumPy arrays (its time in microseconds), its usable rows grouped by
key in time order as *slots* (:mod:`slipway.features.slots`); each view's rows stream from DuckDB
in batches of :data:`BATCH_ROWS` (only rows with a key and a time the entity rows can use), read
by a second thread while this one works, and each batch row goes to its slot, which keeps its
latest (event, then created time) row. After the last batch, a forward fill gives each entity
row the latest row at or before its time in its key, and a row older than the TTL becomes null.
Memory is the entity table plus a couple of batches, whatever the size of the views; the answer
is the DuckDB ASOF join's (:mod:`slipway.features.offline`), row for row
(``tests/features/test_streamed_join.py`` runs both).

It answers the common case and declines the rest (the caller then runs DuckDB's join): one
integer join key per view, int/float/bool features, no ``created_before_row`` and a created time
that is never null.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.features.offline import ROW, ViewJoin, typed
from slipway.features.slots import NullCreatedTime, Slots
from slipway.features.sources import ident

T = TypeVar("T")
BATCH_ROWS = 250_000
STREAM_MEMORY_BYTES = 256 * 2**20
_NUMERIC = {"int32": pa.int32(), "int64": pa.int64(), "float32": pa.float32(), "float64": pa.float64(),
            "bool": pa.bool_()}


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
    # peak at the entity table plus a few batches (a user's memory_limit below it is kept). One
    # DuckDB thread scans (less buffered ahead, less memory) while this one merges: two cores.
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = false")
    if _bytes(limit) > STREAM_MEMORY_BYTES:
        con.execute(f"SET memory_limit = '{STREAM_MEMORY_BYTES // 2**20}MB'")
    threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    con.execute("SET threads = 1")
    try:
        for view in joins:
            for name, column in _view(con, table, et, et_null, view):
                table = table.append_column(name, column)
    finally:
        con.execute("SET preserve_insertion_order = true")
        con.execute(f"SET memory_limit = '{limit}'")
        con.execute(f"SET threads = {threads}")
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
    usable = ~(keys.is_null().to_numpy(zero_copy_only=False) | et_null)
    ek = pc.fill_null(keys, 0).to_numpy().astype(np.int64, copy=False)
    n = len(et)
    if not usable.any():
        return [(c, pa.nulls(n, _NUMERIC[_dtype(spec, f)])) for f, c in zip(view.features, view.columns, strict=True)]
    hi = int(et[usable].max())
    ts = _us(ident(spec["timestamp"]))
    kmin, kmax = int(ek[usable].min()), int(ek[usable].max())
    dense = kmax - kmin < max(4 * n, 1 << 20)
    # Dense keys: the key less kmin is the group (groups without rows are empty); else its rank.
    mapping = unique = None if dense else np.unique(ek[usable])
    groups = kmax - kmin + 1 if unique is None else len(unique)
    rows = np.flatnonzero(usable)
    gid = ek[rows] - kmin if unique is None else np.searchsorted(unique, ek[rows])
    order = _group_order(gid, et[rows], groups)
    slots = Slots(rows[order], et[rows][order], np.concatenate(([0], np.cumsum(np.bincount(gid, minlength=groups)))),
                  [_numpy(spec, f) for f in view.features])
    created = spec.get("created_timestamp")
    cols = [f"CAST({ident(key)} AS BIGINT) AS k", f"{ts} AS t",
            f"{_us(ident(created))} AS c" if created else "0::BIGINT AS c",
            *(f"{typed(spec, f)} AS v{i}" for i, f in enumerate(view.features))]
    where = f"{ident(key)} BETWEEN {kmin} AND {kmax} AND {ts} IS NOT NULL AND {ts} <= {hi}"
    if ttl_us is not None:  # older rows are past every entity row's TTL
        where += f" AND {ts} >= {int(et[usable].min()) - ttl_us}"
    import duckdb

    try:
        reader = con.sql(f"SELECT {', '.join(cols)} FROM {view.relation} WHERE {where}").to_arrow_reader(BATCH_ROWS)
        def find(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, np.ndarray, np.ndarray]:
            group, picked = _groups(batch.column(0).to_numpy(), kmin, mapping)
            t = batch.column(1).to_numpy()
            return (batch, *slots.slot_of(group, t if picked is None else t[picked], picked))

        with contextlib.closing(_prefetched(reader, find)) as found:
            for batch, slot, taken in found:
                slots.merge(batch, slot, taken, bool(created))
    except NullCreatedTime:
        raise Declined("a null created time") from None
    except duckdb.OutOfMemoryException as err:  # a very wide view under the stream's small limit
        raise Declined(f"out of memory: {err}") from None
    columns = slots.columns(n, ttl_us, [_NUMERIC[_dtype(spec, f)] for f in view.features])
    return list(zip(view.columns, columns, strict=True))


def _groups(k: np.ndarray, kmin: int, mapping: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The group of each key of a batch: the key less ``kmin``, or its rank in ``mapping`` (then
    only for the keys in it, whose indices come second)."""
    if mapping is None:
        return k - kmin, None
    group = np.searchsorted(mapping, k)
    keep = group < len(mapping)
    keep[keep] = mapping[group[keep]] == k[keep]
    rows = np.flatnonzero(keep)
    return group[rows], rows


def _group_order(gid: np.ndarray, times: np.ndarray, groups: int) -> np.ndarray:
    """The permutation sorting entity rows by (group, time): one sort of both packed in an int64
    when they fit, else a two-key sort."""
    low, span = int(times.min()), int(times.max()) - int(times.min()) + 1
    if groups * span < 2**62:
        return np.argsort(gid * span + (times - low))
    return np.lexsort((times, gid))


def _prefetched(reader: Any, prepare: Callable[[pa.RecordBatch], T]) -> Generator[T, None, None]:
    """``prepare`` of each of the reader's batches, run by a second thread while the caller works
    on the previous one (DuckDB decodes and NumPy searches without the GIL: both cores work)."""
    batches: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def pump() -> None:
        try:
            for batch in reader:
                batches.put(prepare(batch))
                if stop.is_set():
                    return
            batches.put(None)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, which raises it
            batches.put(err)

    thread = threading.Thread(target=pump, name="slipway-pit-scan", daemon=True)
    thread.start()
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                batches.get(timeout=0.05)
        reader.close()


def _dtype(spec: dict[str, Any], feature: str) -> str:
    return str(next(f["dtype"] for f in spec["features"] if f["name"] == feature))


def _numpy(spec: dict[str, Any], feature: str) -> Any:
    return _NUMERIC[_dtype(spec, feature)].to_pandas_dtype()
