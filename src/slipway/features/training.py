"""Building a training set: the point-in-time join, on-demand views, and recording the result as a
dataset version with lineage to the views, their sources and the entity table."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from slipway.core.errors import InvalidInput
from slipway.features.offline import ROW, ViewJoin, connect, output_columns, pit_query
from slipway.features.selection import Get, Selection, join_keys, run_on_demand
from slipway.features.sources import SourceReader, ident, quote

BATCH_ROWS = 256_000


class TrainingSet:
    """The result of a point-in-time join; ``version`` is the dataset version it was stored as."""

    def __init__(self, table: pa.Table | None, version: Any, loader: Any) -> None:
        self._table = table
        self.version = version
        self._loader = loader

    def to_arrow(self) -> pa.Table:
        if self._table is None:
            self._table = self._loader(self.version.ref)
        return self._table

    def to_pandas(self) -> Any:
        return self.to_arrow().to_pandas()

    @property
    def num_rows(self) -> int:
        return int(self.version.rows) if self._table is None and self.version is not None else self.to_arrow().num_rows

    def __repr__(self) -> str:
        return f"TrainingSet({self.version.ref if self.version is not None else 'not stored'})"


def entity_relation(con: Any, reader: SourceReader, entities: Any, lineage: list[str]) -> str:
    """``entities`` (a table, a DataFrame, a Parquet/CSV path or a dataset reference) as a relation
    numbered by ``ROW`` in its own order."""
    if isinstance(entities, str | Path) and str(entities).endswith((".parquet", ".csv")):
        relation = reader.relation({"type": "path", "path": str(Path(entities).resolve())}, lineage)
        return f"(SELECT *, row_number() OVER () AS {ROW} FROM {relation})"
    if isinstance(entities, str):
        relation = reader.relation({"type": "dataset", "ref": entities}, lineage)
        return f"(SELECT *, row_number() OVER () AS {ROW} FROM {relation})"
    from slipway.data.tables import as_arrow

    table = as_arrow(entities)
    table = table.append_column(ROW, pa.array(range(table.num_rows), pa.int64()))
    con.register("__slipway_entities", table)
    return "__slipway_entities"


def plan_joins(get: Get, reader: SourceReader, selection: Selection, full_names: bool,
               lineage: dict[str, list[str]]) -> list[ViewJoin]:
    chosen = [(d.name, names) for d, names in selection.views]
    od_names = [(d.name, names) for d, names in selection.on_demand]
    columns = output_columns(chosen + od_names, full_names)
    joins = []
    for (definition, names), cols in zip(selection.views, columns, strict=False):
        sources: list[str] = []
        relation = reader.relation(definition.spec["source"], sources)
        lineage[definition.ref] = sources
        joins.append(ViewJoin(definition.spec, relation, join_keys(get, definition), names, cols))
    return joins


def _check_entities(con: Any, relation: str, timestamp: str, joins: list[ViewJoin], selection: Selection) -> None:
    found = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}
    needed = {timestamp, *(k for j in joins for k in j.keys)}
    needed |= {r["name"] for d, _ in selection.on_demand for r in d.spec["request"]}
    missing = sorted(needed - found)
    if missing:
        raise InvalidInput(f"the entity table has no column {', '.join(map(repr, missing))}; it needs the join keys, "
                           f"the {timestamp!r} time column and the request data of on-demand views")


def _with_on_demand(batches: Iterator[pa.RecordBatch], selection: Selection, full_names: bool) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        frame = batch.to_pandas()
        for definition, names in selection.on_demand:
            result = run_on_demand(definition, frame)
            for name in names:
                frame[f"{definition.name}__{name}" if full_names else name] = result[name].to_numpy()
        yield pa.RecordBatch.from_pandas(frame, preserve_index=False)


@contextlib.contextmanager
def join_session(home: Path, memory_limit: str | None) -> Iterator[tuple[Any, Path]]:
    scratch = Path(tempfile.mkdtemp(prefix="pit-", dir=_tmp(home)))
    con = connect(str(scratch / "spill"), memory_limit)
    try:
        yield con, scratch
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _tmp(home: Path) -> Path:
    folder = home / "features" / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_join(con: Any, query: str, selection: Selection, full_names: bool, out: Path | None) -> pa.Table | None:
    """Run ``query``; write it to ``out`` (Parquet, out of core) or return it as a table."""
    if not selection.on_demand:
        if out is None:
            return con.sql(query).to_arrow_table()
        con.execute(f"COPY ({query}) TO {quote(str(out))} (FORMAT parquet)")
        return None
    reader = con.sql(query).to_arrow_reader(BATCH_ROWS)
    batches = _with_on_demand(iter(reader), selection, full_names)
    first = next(batches, None)
    if first is None:
        return pa.table({f.name: pa.array([], f.type) for f in reader.schema})
    if out is None:
        return pa.Table.from_batches([first, *batches])
    with pq.ParquetWriter(out, first.schema) as writer:
        writer.write_batch(first)
        for batch in batches:
            writer.write_batch(batch)
    return None


def join(con: Any, relation: str, timestamp: str, joins: list[ViewJoin], selection: Selection, full_names: bool,
         out: Path | None, created_before_row: bool = False, settings: Any = None) -> pa.Table | None:
    """The point-in-time join, written to ``out`` or returned: the streamed sort-merge
    (:mod:`slipway.features.streamed`, fast path ``features.streamed_join``) when it answers the
    case, else DuckDB's ASOF join (:func:`~slipway.features.offline.pit_query`)."""
    from slipway.core import fastpaths

    if not created_before_row and fastpaths.enabled(settings):
        from slipway.features.streamed import Declined, streamed_join

        try:
            table = streamed_join(con, relation, timestamp, joins)
        except Declined:
            pass
        else:
            fastpaths.took("features.streamed_join")
            return _finish(table, selection, full_names, out)
    return run_join(con, pit_query(relation, timestamp, joins, created_before_row), selection, full_names, out)


def _finish(table: pa.Table, selection: Selection, full_names: bool, out: Path | None) -> pa.Table | None:
    if selection.on_demand:
        batches = list(_with_on_demand(iter(table.to_batches(BATCH_ROWS)), selection, full_names))
        table = pa.Table.from_batches(batches) if batches else table
    if out is None:
        return table
    pq.write_table(table, out)
    return None


def snapshot_entities(joins: list[ViewJoin], at_iso: str, timestamp: str) -> str:
    """Every entity any view has a row for, at time ``at_iso`` (the views must share join keys)."""
    keys = joins[0].keys
    if any(j.keys != keys for j in joins):
        raise InvalidInput("a snapshot joins views of the same entities; these views have different join keys")
    cols = ", ".join(map(ident, keys))
    union = " UNION ".join(f"SELECT DISTINCT {cols} FROM {j.relation}" for j in joins)
    return (f"(SELECT *, CAST({quote(at_iso)} AS TIMESTAMPTZ) AS {ident(timestamp)}, "
            f"row_number() OVER (ORDER BY {cols}) AS {ROW} FROM ({union}))")


__all__ = ["TrainingSet", "entity_relation", "join", "join_session", "pit_query", "plan_joins", "run_join", "snapshot_entities"]
