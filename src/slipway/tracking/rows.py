"""Turning rows into tracking records, in as few queries as possible."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from slipway.store.schema.tracking import runs
from slipway.tracking.records import Experiment, Run


def row_to_experiment(row: Any) -> Experiment:
    return Experiment(row.id, row.name, row.description, row.lifecycle, row.created_ms, row.project)


def _in_marks(conn: Connection, count: int) -> str:
    return ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * count)


# The three keyed tables in one statement (one round trip instead of three): each row is
# (table, run_id, key, text value, number value, NaN flag); the NULL casts give PostgreSQL the
# union's column types.
_KEYED_UNION = (
    'SELECT 0, run_id, "key", value, CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BOOLEAN) FROM params WHERE run_id IN ({marks}) '
    'UNION ALL SELECT 1, run_id, "key", value, NULL, NULL FROM run_tags WHERE run_id IN ({marks}) '
    'UNION ALL SELECT 2, run_id, "key", NULL, value, is_nan FROM latest_metrics WHERE run_id IN ({marks})'
)


def _keyed_rows(conn: Connection, chunk: list[str]) -> list[Any]:
    # Plain SQL through the driver: a search returns up to thousands of (run_id, key, value) rows,
    # and SQLAlchemy's per-statement IN expansion and per-row processing cost more than SQLite.
    # The cursor is on this connection, so it reads inside the caller's transaction.
    sql = _KEYED_UNION.format(marks=_in_marks(conn, len(chunk)))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(chunk) * 3)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def load_runs(conn: Connection, run_ids: Sequence[str]) -> list[Run]:
    """The runs of ``run_ids`` (in that order) with their params, latest metrics and tags."""
    if not run_ids:
        return []
    ids = list(run_ids)
    found: dict[str, Any] = {}
    params_of: dict[str, dict[str, str]] = defaultdict(dict)
    metrics_of: dict[str, dict[str, float]] = defaultdict(dict)
    tags_of: dict[str, dict[str, str]] = defaultdict(dict)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for run_row in conn.execute(select(runs).where(runs.c.id.in_(chunk))).all():
            found[run_row.id] = run_row
        for table, run_id, key, text, number, is_nan in _keyed_rows(conn, chunk):
            if table == 0:
                params_of[run_id][key] = text
            elif table == 1:
                tags_of[run_id][key] = text
            else:
                metrics_of[run_id][key] = math.nan if is_nan else number
    result = []
    for run_id in ids:
        row = found.get(run_id)
        if row is None:
            continue
        result.append(Run(
            row.id, row.experiment_id, row.name, row.parent_id, row.status, row.start_ms, row.end_ms, row.lifecycle,
            row.user, row.git_commit, row.git_dirty, row.source, row.packages_digest,
            dict(sorted(params_of[run_id].items())), dict(sorted(metrics_of[run_id].items())),
            dict(sorted(tags_of[run_id].items())),
        ))
    return result
