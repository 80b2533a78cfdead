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


def _keyed_rows(conn: Connection, table: str, columns: str, chunk: list[str]) -> list[Any]:
    # Plain SQL through the driver: a search returns up to thousands of (run_id, key, value) rows,
    # and SQLAlchemy's per-statement IN expansion and per-row processing cost more than SQLite.
    # The cursor is on this connection, so it reads inside the caller's transaction.
    sql = f'SELECT run_id, "key", {columns} FROM {table} WHERE run_id IN ({_in_marks(conn, len(chunk))})'
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(chunk))
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
        for run_id, key, value in _keyed_rows(conn, "params", "value", chunk):
            params_of[run_id][key] = value
        for run_id, key, value in _keyed_rows(conn, "run_tags", "value", chunk):
            tags_of[run_id][key] = value
        for run_id, key, value, is_nan in _keyed_rows(conn, "latest_metrics", "value, is_nan", chunk):
            metrics_of[run_id][key] = math.nan if is_nan else value
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
