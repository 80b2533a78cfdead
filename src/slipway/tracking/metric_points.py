"""Metric points in bulk: checking a batch, and writing it with one driver-level ``executemany``.

This is the hot path of ``log_batch`` (and so of the background logger and the server's batched
logging). SQLAlchemy Core's per-row parameter processing costs more than SQLite's own insert, so
the points go to the driver as plain tuples (:func:`slipway.store.upsert.insert_many`: one
``executemany`` on SQLite, ``COPY`` and one statement over column arrays on PostgreSQL).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from slipway.core.errors import InvalidInput
from slipway.core.names import check_key
from slipway.store.upsert import insert_many
from slipway.tracking.metric_buckets import upsert_buckets

MetricPoint = Sequence[Any]  # (key, value, step, timestamp_ms); timestamp optional
# A stored row, in the column order of the two statements below.
PointRow = tuple[str, str, int, int, float, bool]  # run_id, key, step, ts, value, is_nan

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_COLUMNS = '(run_id, "key", step, ts, value, is_nan)'
_TYPES = ("text", "text", "bigint", "bigint", "float8", "boolean")  # PostgreSQL's, for insert_many


def metric_value(value: Any, key: str) -> float:
    """A metric value from a caller: a real number, or "NaN"/"Infinity"/"-Infinity" from JSON."""
    if isinstance(value, str) and value in _SPECIAL:
        return _SPECIAL[value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"metric {key!r} must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def _integer(value: Any, key: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"metric {key!r} {what}, got {value!r}")
    return value


def metric_rows(run_id: str, points: Sequence[MetricPoint], default_ts: int) -> tuple[list[PointRow], list[PointRow]]:
    """Check every point and return (rows to store, the newest row per key).

    "Newest" is the largest ``(step, timestamp)``; on a tie the later point wins. A point without a
    timestamp gets ``default_ts``.

    Raises:
        InvalidInput: naming the first bad point (malformed, bad key, non-numeric value, a step
            or timestamp that is not an integer). Nothing is returned, so nothing is written.
    """
    rows: list[PointRow] = []
    latest: dict[str, PointRow] = {}
    checked: set[str] = set()
    for point in points:
        try:
            key, value, step, ts = point if len(point) == 4 else (*point, default_ts)
        except (TypeError, ValueError) as err:
            raise InvalidInput(f"a metric point is (key, value, step, timestamp_ms), got {point!r}") from err
        if type(key) is not str or key not in checked:
            check_key(key, "metric key")
            checked.add(key)
        # Exact-type tests first: the common case costs a few nanoseconds, the rest is checked fully.
        number = value if type(value) is float else metric_value(value, key)
        if type(step) is not int:
            step = _integer(step, key, "step must be an integer")
        if type(ts) is not int:
            ts = _integer(ts, key, "timestamp must be integer milliseconds")
        nan = number != number
        row = (run_id, key, step, ts, 0.0 if nan else number, nan)
        rows.append(row)
        best = latest.get(key)
        if best is None or step > best[2] or (step == best[2] and ts >= best[3]):
            latest[key] = row
    return rows, list(latest.values())


def insert_points(conn: Connection, rows: list[PointRow]) -> None:
    """Append metric points (rows from :func:`metric_rows`) in ``conn``'s transaction, and merge
    them into the charts' summary (:mod:`slipway.tracking.metric_buckets`) in the same one."""
    if rows:
        insert_many(conn, "metrics", _COLUMNS, _TYPES, rows)
        upsert_buckets(conn, rows)


def upsert_latest(conn: Connection, rows: list[PointRow]) -> None:
    """Update the latest-value table: a key's row changes only if the new point is newer
    (larger step, or the same step and a timestamp at least as late)."""
    insert_many(  # one row per key (metric_rows keeps the newest), as one statement's ON CONFLICT needs
        conn, "latest_metrics", _COLUMNS, _TYPES, rows,
        'ON CONFLICT (run_id, "key") DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, '
        "step = excluded.step, ts = excluded.ts "
        "WHERE excluded.step > latest_metrics.step "
        "OR (excluded.step = latest_metrics.step AND excluded.ts >= latest_metrics.ts)")

