"""Materialising a view: the latest row per entity in an event-time window, streamed in chunks
ordered by encoded key, so a run resumes after the last key it wrote and memory stays bounded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from slipway.features.offline import typed
from slipway.features.sources import ident, quote


def encode_keys(rows: list[dict[str, Any]], keys: list[str]) -> list[str]:
    """The stored form of entity keys: the JSON array of the key values (what DuckDB's
    ``json_array`` writes at materialisation)."""
    if len(keys) == 1:
        key = keys[0]
        return [orjson.dumps([row.get(key)], option=orjson.OPT_SERIALIZE_NUMPY).decode() for row in rows]
    return [orjson.dumps([row.get(k) for k in keys], option=orjson.OPT_SERIALIZE_NUMPY).decode() for row in rows]


def window_query(relation: str, spec: dict[str, Any], keys: list[str], start_ms: int | None, end_ms: int,
                 after_key: str | None) -> str:
    """Key, event ms and values JSON of each entity's latest row with start < event time <= end."""
    ts = f"CAST({ident(spec['timestamp'])} AS TIMESTAMPTZ)"
    order = f"{ts} DESC" + (f", {ident(spec['created_timestamp'])} DESC" if spec.get("created_timestamp") else "")
    where = [f"{ts} <= make_timestamptz({int(end_ms) * 1000})"]
    if start_ms is not None:
        where.append(f"{ts} > make_timestamptz({int(start_ms) * 1000})")
    latest = (f"SELECT * FROM {relation} WHERE {' AND '.join(where)} "
              f"QUALIFY row_number() OVER (PARTITION BY {', '.join(map(ident, keys))} ORDER BY {order}) = 1")
    values = ", ".join(typed(spec, f["name"]) for f in spec["features"])
    query = (f"SELECT json_array({', '.join(map(ident, keys))}) AS k, epoch_ms({ts}) AS ms, json_array({values}) AS v "
             f"FROM ({latest})")
    if after_key is not None:
        query = f"SELECT * FROM ({query}) WHERE k > {quote(after_key)}"
    return f"{query} ORDER BY k"


def chunks(con: Any, query: str, chunk_rows: int) -> Iterator[tuple[list[str], list[int], list[str]]]:
    reader = con.sql(query).to_arrow_reader(chunk_rows)
    for batch in reader:
        if batch.num_rows:
            yield batch.column(0).to_pylist(), batch.column(1).to_pylist(), batch.column(2).to_pylist()


_ARROW = {"int32": "int32", "int64": "int64", "float32": "float32", "float64": "float64", "string": "string",
          "bool": "bool_", "timestamp": "string"}


def profile_table(spec: dict[str, Any], event_ms: list[int], values: list[str]) -> Any:
    """A chunk as an Arrow table to profile: the event time and each feature, typed as declared
    (so the profiles of every chunk merge)."""
    import pyarrow as pa

    rows = [orjson.loads(v) for v in values]
    columns = {spec["timestamp"]: pa.array(event_ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))}
    for index, feature in enumerate(spec["features"]):
        kind = getattr(pa, _ARROW[feature["dtype"]])()
        column = [r[index] for r in rows]
        if feature["dtype"] == "timestamp":
            column = [None if v is None else str(v) for v in column]
        columns[feature["name"]] = pa.array(column, kind)
    return pa.table(columns)
