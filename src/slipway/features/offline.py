"""Point-in-time joins on DuckDB: for each entity row, each view's latest row at or before the
row's time and within the view's TTL; every entity row kept, in its order.

Per view, rows tied on event time keep the one created last (``created_timestamp``): the ASOF
inequality is then on the pair (event time, created time), a struct DuckDB orders field by field,
against (row time, infinity); that costs a third of de-duplicating ties with a window first. The
join is DuckDB's ASOF JOIN, which sorts both sides and spills to disk past the memory limit.
With ``created_before_row``, a feature row also counts only if it was created at or before the
entity row's time (no backfill leakage): that is not a single inequality, so those views join
with a range join and keep the latest match per entity row instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from slipway.core.errors import InvalidInput
from slipway.features.sources import ident

ROW = "__slipway_row"
TS = "__slipway_ts"


@dataclasses.dataclass(frozen=True)
class ViewJoin:
    """One view in a join: its spec, the SQL it reads, the join keys, the features to take and the
    output column name of each."""

    spec: dict[str, Any]
    relation: str
    keys: list[str]
    features: list[str]
    columns: list[str]


def output_columns(selected: list[tuple[str, list[str]]], full_names: bool) -> list[list[str]]:
    """The output name of each feature: its own name, or ``view__feature`` with ``full_names``.

    Raises:
        InvalidInput: two views give a feature of the same name and ``full_names`` is off.
    """
    if full_names:
        return [[f"{view}__{f}" for f in features] for view, features in selected]
    seen: dict[str, str] = {}
    for view, features in selected:
        for feature in features:
            if feature in seen:
                raise InvalidInput(f"feature {feature!r} is in views {seen[feature]} and {view}; "
                                   "pass full_names=True to name columns view__feature")
            seen[feature] = view
    return [list(features) for _, features in selected]


SQL_TYPES = {"int32": "INTEGER", "int64": "BIGINT", "float32": "FLOAT", "float64": "DOUBLE", "string": "VARCHAR",
             "bool": "BOOLEAN", "timestamp": "TIMESTAMPTZ"}


def typed(spec: dict[str, Any], feature: str) -> str:
    """``feature`` of a view cast to its declared type (a SQL source may compute a DECIMAL or a
    HUGEINT; offline and online both give the declared type)."""
    dtype = next((f["dtype"] for f in spec["features"] if f["name"] == feature), None)
    return f"CAST({ident(feature)} AS {SQL_TYPES[dtype]})" if dtype in SQL_TYPES else ident(feature)


def _view_cte(index: int, view: ViewJoin) -> str:
    spec = view.spec
    created = spec.get("created_timestamp")
    ts = f"CAST({ident(spec['timestamp'])} AS TIMESTAMPTZ)"
    cols = [ident(k) for k in view.keys]
    cols.append(f"{ts} AS __ts{index}")
    if created:
        cr = f"CAST({ident(created)} AS TIMESTAMPTZ)"
        cols += [f"{cr} AS __cr{index}", f"struct_pack(t := {ts}, c := {cr}) AS __k{index}"]
    cols += [f"{typed(spec, f)} AS __f{index}_{n}" for n, f in enumerate(view.features)]
    return f"f{index} AS (SELECT {', '.join(cols)} FROM {view.relation})"


def _ttl_guard(index: int, view: ViewJoin, alias: str) -> str:
    ttl = view.spec.get("ttl_seconds")
    return f"{alias}.__ts{index} >= e.{TS} - INTERVAL {int(ttl)} SECOND" if ttl else "TRUE"


def _range_cte(index: int, view: ViewJoin) -> str:
    """Latest row per entity row with event and created time at or before the row's time."""
    on = " AND ".join([f"e.{ident(k)} = f.{ident(k)}" for k in view.keys]
                      + [f"f.__ts{index} <= e.{TS}", f"f.__cr{index} <= e.{TS}", _ttl_guard(index, view, "f")])
    picked = ", ".join(f"f.__f{index}_{n}" for n in range(len(view.features)))
    return (f"m{index} AS (SELECT e.{ROW} AS {ROW}, f.__ts{index}, {picked} FROM e JOIN f{index} f ON {on} "
            f"QUALIFY row_number() OVER (PARTITION BY e.{ROW} ORDER BY f.__ts{index} DESC, f.__cr{index} DESC) = 1)")


def pit_query(entities: str, timestamp: str, views: list[ViewJoin], created_before_row: bool = False) -> str:
    """The SQL of the point-in-time join of ``entities`` (a relation with ``ROW`` numbering its
    rows) with ``views``; entity columns first, then each view's feature columns."""
    ctes = [f"e AS (SELECT *, CAST({ident(timestamp)} AS TIMESTAMPTZ) AS {TS} FROM {entities})"]
    joins, selects = [], []
    for index, view in enumerate(views):
        created = bool(view.spec.get("created_timestamp"))
        ranged = created_before_row and created
        ctes.append(_view_cte(index, view))
        if ranged:
            ctes.append(_range_cte(index, view))
            joins.append(f"LEFT JOIN m{index} ON m{index}.{ROW} = e.{ROW}")
            selects += [f"m{index}.__f{index}_{n} AS {ident(c)}" for n, c in enumerate(view.columns)]
            continue
        inequality = (f"struct_pack(t := e.{TS}, c := 'infinity'::TIMESTAMPTZ) >= f{index}.__k{index}" if created
                      else f"e.{TS} >= f{index}.__ts{index}")
        on = " AND ".join([f"e.{ident(k)} = f{index}.{ident(k)}" for k in view.keys] + [inequality])
        joins.append(f"ASOF LEFT JOIN f{index} ON {on}")
        guard = _ttl_guard(index, view, f"f{index}")
        selects += [f"CASE WHEN {guard} THEN f{index}.__f{index}_{n} END AS {ident(c)}" for n, c in enumerate(view.columns)]
    return (f"WITH {', '.join(ctes)} SELECT e.* EXCLUDE ({ROW}, {TS}){''.join(', ' + s for s in selects)} "
            f"FROM e {' '.join(joins)} ORDER BY e.{ROW}")


def connect(temp_directory: str, memory_limit: str | None = None) -> Any:
    """A DuckDB connection in UTC that spills to ``temp_directory`` past ``memory_limit``."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET temp_directory = '{temp_directory}'")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    return con
