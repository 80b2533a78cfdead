"""Compiling a parsed run filter and ordering to one SQLAlchemy query.

Everything happens in the database: each comparison on a metric, param, tag or dataset is an
``EXISTS`` against its table (the primary keys ``(run_id, key)`` make each probe one index
lookup), attributes compare columns of ``runs``, and ordering by a metric, param or tag is a
``LEFT JOIN`` on ``(run_id, key)``, with missing values last. The same SQL runs on SQLite and
PostgreSQL; the only dialect-specific pieces are a case-sensitive ``LIKE`` on SQLite (whose
``LIKE`` ignores case), done with ``GLOB``, and doubling backslashes in PostgreSQL patterns, whose
``LIKE`` would otherwise read them as escapes: a backslash is a literal character on both, as in
MLflow.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Select, and_, case, exists, false, func, literal, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from slipway.core.errors import InvalidInput
from slipway.store.schema.tracking import latest_metrics, params, run_inputs, run_tags, runs
from slipway.tracking.search import Comparison, Node, OrderKey

_ATTRIBUTE_COLUMNS = {
    "run_id": runs.c.id, "run_name": runs.c.name, "status": runs.c.status, "start_time": runs.c.start_ms,
    "end_time": runs.c.end_ms, "user": runs.c.user, "experiment_id": runs.c.experiment_id,
    "parent_id": runs.c.parent_id, "lifecycle": runs.c.lifecycle, "git_commit": runs.c.git_commit,
    "source": runs.c.source,
}
_KEYED = {"params": params, "tags": run_tags}
SHORT_PARAM = 200  # the length bound of the partial index ix_params_short_value


def _like_to_glob(pattern: str) -> str:
    """A LIKE pattern as the equivalent GLOB pattern (GLOB is case-sensitive on SQLite)."""
    out = []
    for char in pattern:
        if char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


def _literal_backslashes(pattern: str, dialect: str) -> str:
    """A LIKE pattern whose backslashes match themselves: SQLite's LIKE and GLOB have no escape
    character unless asked; PostgreSQL's LIKE and ILIKE escape with a backslash by default."""
    return pattern if dialect == "sqlite" else pattern.replace("\\", "\\\\")


def _string_test(column: Any, op: str, value: Any, dialect: str) -> ColumnElement[bool]:
    negate = op.startswith("NOT ")
    base = op.removeprefix("NOT ")
    test: ColumnElement[bool]
    if base == "=":
        test = column == value
    elif base == "!=":
        test = column != value
    elif base == "LIKE":
        if dialect == "sqlite":
            test = column.op("GLOB")(_like_to_glob(value))
        else:
            test = column.like(_literal_backslashes(value, dialect))
    elif base == "ILIKE":
        test = column.ilike(_literal_backslashes(value, dialect))
    elif base == "IN":
        test = column.in_(list(value))
    elif base in ("<", "<=", ">", ">="):
        test = column.op(base)(value)
    else:  # pragma: no cover - the parser only produces the operators above
        raise InvalidInput(f"unsupported operator {op!r}")
    return not_(test) if negate else test


def _number_test(column: Any, nan_flag: Any, op: str, value: Any) -> ColumnElement[bool]:
    """Compare a float column; stored NaN (a flag) equals nothing and differs from everything."""
    values = list(value) if isinstance(value, tuple) else [value]
    if any(math.isnan(v) for v in values):
        raise InvalidInput("NaN cannot be compared; it matches nothing")
    if op == "IN":
        return and_(not_(nan_flag), column.in_(values))
    if op == "NOT IN":
        return or_(nan_flag, column.not_in(values))
    if op == "!=":
        return or_(nan_flag, column != value)
    return and_(not_(nan_flag), column.op(op)(value))


def _keyed_test(table: Any, key: str, correlated: bool, test: ColumnElement[bool]) -> ColumnElement[bool]:
    """A run has ``key`` in ``table`` with a value passing ``test``.

    Correlated (``EXISTS``, one primary-key probe per run) suits queries that visit few runs and
    stop early; uncorrelated (``IN (subquery)``) lets the database start from the comparison's own
    index range, which wins when every run would otherwise be probed.
    """
    if correlated:
        return exists().where(table.c.run_id == runs.c.id, table.c.key == key, test)
    return runs.c.id.in_(select(table.c.run_id).where(table.c.key == key, test))


def _null_test(comp: Comparison, correlated: bool) -> ColumnElement[bool]:
    """``IS NULL``: the run has no such key (or attribute value); ``IS NOT NULL``: it has one."""
    if comp.entity == "attributes":
        column = _ATTRIBUTE_COLUMNS[comp.key]
        return column.is_(None) if comp.op == "IS NULL" else column.is_not(None)
    table = latest_metrics if comp.entity == "metrics" else _KEYED[comp.entity]
    has_key = _keyed_test(table, comp.key, correlated, true())
    return not_(has_key) if comp.op == "IS NULL" else has_key


def _comparison(comp: Comparison, dialect: str, correlated: bool) -> ColumnElement[bool]:
    if comp.value is None:
        return _null_test(comp, correlated)
    if comp.entity == "metrics":
        return _keyed_test(latest_metrics, comp.key, correlated, _number_test(
            latest_metrics.c.value, latest_metrics.c.is_nan, comp.op, comp.value))
    if comp.entity in _KEYED:
        table = _KEYED[comp.entity]
        test = _string_test(table.c.value, comp.op, comp.value, dialect)
        values = comp.value if isinstance(comp.value, tuple) else (comp.value,)
        if table is params and comp.op in ("=", "IN") and all(len(str(v)) <= SHORT_PARAM for v in values):
            # Implied by the equality itself; it lets the database use the partial index on short values.
            test = and_(test, func.length(params.c.value) <= SHORT_PARAM)
        return _keyed_test(table, comp.key, correlated, test)
    if comp.entity == "datasets":
        column = run_inputs.c[comp.key]
        if comp.key == "version":
            test = _number_test(column, false(), comp.op, comp.value)
        else:
            test = _string_test(column, comp.op, comp.value, dialect)
        return exists().where(run_inputs.c.run_id == runs.c.id, test)
    column = _ATTRIBUTE_COLUMNS[comp.key]
    if comp.key in ("start_time", "end_time"):
        return and_(column.is_not(None), _number_test(column, false(), comp.op, comp.value))
    if comp.op in ("!=", "NOT IN", "NOT LIKE", "NOT ILIKE"):
        # A missing value (no parent, no commit) differs from every given value, as in MLflow.
        return or_(column.is_(None), _string_test(column, comp.op, comp.value, dialect))
    return _string_test(column, comp.op, comp.value, dialect)


def compile_filter(node: Node | None, dialect: str, correlated: bool = True) -> ColumnElement[bool]:
    """The WHERE condition for a parsed filter (``true()`` for an empty filter)."""
    if node is None:
        return true()
    if isinstance(node, Comparison):
        return _comparison(node, dialect, correlated)
    parts = [compile_filter(item, dialect, correlated) for item in node.items]
    return and_(*parts) if node.op == "and" else or_(*parts)


def apply_order(query: Select[Any], keys: list[OrderKey], first_index: int = 0) -> Select[Any]:
    """Add ORDER BY for ``keys`` (missing values last), then start time and id as tie-breakers.
    ``first_index`` numbers the joined aliases after those the query already has."""
    clauses: list[Any] = []
    for index, key in enumerate(keys, start=first_index):
        if key.entity == "attributes":
            column: Any = _ATTRIBUTE_COLUMNS[key.key]
            clauses.append(case((column.is_(None), 1), else_=0))
        elif key.entity == "metrics":
            alias = latest_metrics.alias(f"order_m{index}")
            query = query.outerjoin(alias, and_(alias.c.run_id == runs.c.id, alias.c.key == key.key))
            column = alias.c.value
            # Missing last; NaN after every number, as MLflow orders it.
            clauses.append(case((alias.c.value.is_(None), 2), (alias.c.is_nan, 1), else_=0))
        elif key.entity in _KEYED:
            alias = _KEYED[key.entity].alias(f"order_{key.entity}{index}")
            query = query.outerjoin(alias, and_(alias.c.run_id == runs.c.id, alias.c.key == key.key))
            column = alias.c.value
            clauses.append(case((column.is_(None), 1), else_=0))
        else:
            raise InvalidInput(f"cannot order by {key.entity}.{key.key}; order by metrics, params, tags or attributes")
        clauses.append(column.desc() if key.descending else column.asc())
    if not any(k.entity == "attributes" and k.key == "start_time" for k in keys):
        clauses.append(runs.c.start_ms.desc())
    clauses.append(runs.c.id.desc())
    return query.order_by(*clauses)


def _base_conditions(
    node: Node | None, dialect: str, experiment_ids: list[str] | None, include_deleted: bool, correlated: bool,
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [compile_filter(node, dialect, correlated)]
    if experiment_ids is not None:
        conditions.append(runs.c.experiment_id.in_(experiment_ids) if experiment_ids else literal(False))
    if not include_deleted:
        conditions.append(runs.c.lifecycle == "active")
    return conditions


def run_id_query(
    node: Node | None, order: list[OrderKey], dialect: str, experiment_ids: list[str] | None, include_deleted: bool,
) -> Select[Any]:
    """SELECT runs.id matching the filter, in the requested order; the caller adds LIMIT/OFFSET."""
    # Newest-first walks an index and stops at a full page, so per-run probes are cheap; any other
    # order sorts every match, so let the database start from the filter's own index ranges.
    walks_index = not order or (order[0].entity == "attributes" and order[0].key == "start_time")
    conditions = _base_conditions(node, dialect, experiment_ids, include_deleted, correlated=walks_index)
    return apply_order(select(runs.c.id).select_from(runs).where(*conditions), order)


def top_by_metric_query(
    node: Node | None, order: list[OrderKey], dialect: str, experiment_ids: list[str] | None, include_deleted: bool,
) -> Select[Any]:
    """The runs matching the filter that have a (non-NaN) value of the first order metric, in the
    full order: ``SELECT runs.id`` ordered by that value, then the other keys and tie-breakers.

    Those runs come before the ones with a NaN or no value, so a page of this query that is full
    is the full query's page. Ordered by the value of the covering index ``(key, is_nan, value,
    run_id)``, the database can walk the index in order, probe each run's filter terms
    (correlated ``EXISTS``: one primary-key lookup each) and stop at the page's end; the
    tie-breakers are sorted within equal values (PostgreSQL's incremental sort, SQLite's sorter
    for the right part of the ORDER BY). Whether that beats reading the filter's own matches and
    sorting them is the planner's call, which needs the filter's row count estimated right
    (the extended statistics of migration 0034 on PostgreSQL).
    """
    first = order[0]
    metric = latest_metrics.alias("order_m0")
    conditions = _base_conditions(node, dialect, experiment_ids, include_deleted, correlated=True)
    page = (
        select(runs.c.id)
        .select_from(metric.join(runs, runs.c.id == metric.c.run_id))
        .where(metric.c.key == first.key, metric.c.is_nan == false(), *conditions)
        .order_by(metric.c.value.desc() if first.descending else metric.c.value.asc())
    )
    return apply_order(page, order[1:], first_index=1)


def metric_sample_query(
    node: Node | None, order: list[OrderKey], dialect: str, experiment_ids: list[str] | None, include_deleted: bool,
    sample: int,
) -> Select[Any]:
    """How many of the ``sample`` best (non-NaN) values of the first order metric belong to runs
    matching the filter: a walk of ``sample`` index entries with a probe each."""
    first = order[0]
    candidates = (
        select(latest_metrics.c.run_id)
        .where(latest_metrics.c.key == first.key, latest_metrics.c.is_nan == false())
        .order_by(latest_metrics.c.value.desc() if first.descending else latest_metrics.c.value.asc())
        .limit(sample)
        .subquery("candidates")
    )
    conditions = _base_conditions(node, dialect, experiment_ids, include_deleted, correlated=True)
    return select(func.count()).select_from(candidates.join(runs, runs.c.id == candidates.c.run_id)).where(*conditions)
