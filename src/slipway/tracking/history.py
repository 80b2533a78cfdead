"""Reading a metric's raw points: whole, by offset, or a page at a time by keyset.

Points are ordered by ``(step, ts, id)`` (step, then time, then insertion), and the index
``ix_metrics_run_key_step_ts_id`` on ``(run_id, key, step, ts, id)`` holds them in that order. A
keyset page continues after the last ``(step, ts, id)`` it returned, with a row comparison
``(step, ts, id) > (?, ?, ?)`` that both SQLite and PostgreSQL answer from that index: a page from
the middle of a 10M-point series costs what the first page costs. ``OFFSET`` (kept for old
callers and old MLflow page tokens) instead steps over every earlier point, so it grows with the
offset.

A page token is opaque to callers: URL-safe base64 of ``{"s": step, "t": ts, "i": id}`` of the
last point returned. Points are read through the driver: a 100,000-point history through
SQLAlchemy's row processing and one record per point costs several times SQLite's own read.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any, cast

import orjson
from sqlalchemy import Connection

from slipway.core.errors import InvalidInput

# (value, step, timestamp_ms) of one stored point; NaN restored from ``is_nan``.
HistoryRow = tuple[float, int, int]
# Where a page ends: (step, timestamp_ms, id) of its last point.
Position = tuple[int, int, int]

_SELECT = 'SELECT value, is_nan, step, ts, id FROM metrics WHERE run_id = {m} AND "key" = {m}'
_ORDER = " ORDER BY step, ts, id"


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def encode_position(position: Position) -> str:
    step, ts, point_id = position
    return base64.urlsafe_b64encode(orjson.dumps({"s": step, "t": ts, "i": point_id})).decode().rstrip("=")


def decode_position(token: str) -> Position:
    """The position a page token holds.

    Raises:
        InvalidInput: the token is not one :func:`encode_position` made (names the token).
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        body = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        position = (body["s"], body["t"], body["i"])
    except (
        binascii.Error,
        ValueError,
        TypeError,
        KeyError,
        orjson.JSONDecodeError,
        UnicodeEncodeError,
    ) as err:
        raise InvalidInput(
            f"page token {str(token)[:40]!r} is not a metric history token; "
            "pass the next_token of a previous page"
        ) from err
    if not all(_whole(v) for v in position):
        raise InvalidInput(
            f"page token {token[:40]!r} is not a metric history token; pass the next_token of a previous page"
        )
    return position


def _fetch(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _points(rows: list[tuple[Any, ...]]) -> list[HistoryRow]:
    nan = math.nan
    return [(nan if is_nan else value, step, ts) for value, is_nan, step, ts, _id in rows]


def history_rows(
    conn: Connection, run_id: str, key: str, offset: int = 0, limit: int | None = None
) -> list[HistoryRow]:
    """Metric ``key`` of ``run_id`` by step, time and insertion, ``limit`` points from ``offset``."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql, params = _SELECT.format(m=mark) + _ORDER, cast(tuple[Any, ...], (run_id, key))
    if limit is not None:
        sql, params = f"{sql} LIMIT {mark} OFFSET {mark}", (*params, limit, offset)
    elif offset:
        sql = f"{sql} LIMIT {'-1' if conn.dialect.name == 'sqlite' else 'ALL'} OFFSET {mark}"
        params = (*params, offset)
    return _points(_fetch(conn, sql, params))


def check_offset(key: Any, offset: Any, limit: Any) -> None:
    """InvalidInput unless ``key`` is a string, ``offset`` a whole number from 0 and ``limit`` None or
    a whole number from 1."""
    if not _whole(offset) or offset < 0 or (limit is not None and (not _whole(limit) or limit < 1)):
        raise InvalidInput(
            f"offset is a whole number from 0 and limit one from 1, got {offset!r} and {limit!r}"
        )
    if not isinstance(key, str):
        raise InvalidInput(f"metric key must be a string, got {key!r}")


def check_page(key: Any, limit: Any, min_step: Any, max_step: Any, offset: Any = 0) -> None:
    """InvalidInput unless ``key`` is a string, ``limit`` None or a whole number from 1, ``offset`` one
    from 0 and the step bounds whole numbers or None."""
    check_offset(key, offset, limit)
    for name, bound in (("min_step", min_step), ("max_step", max_step)):
        if bound is not None and not _whole(bound):
            raise InvalidInput(f"{name} is a whole number or None, got {bound!r}")


def page_rows(
    conn: Connection,
    run_id: str,
    key: str,
    limit: int | None,
    after: Position | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
    offset: int = 0,
) -> tuple[list[HistoryRow], Position | None]:
    """Up to ``limit`` points (all when None) after ``after`` (from the start when None) with ``min_step <= step <=
    max_step``, skipping ``offset`` of them first, and the position to continue from (None when no
    point follows).

    One query reads ``limit + 1`` points from the index, the extra one only to know whether
    another page follows. ``offset`` is only for old offset-based page tokens: it costs a step over
    each skipped point, where ``after`` seeks straight to its position.
    """
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql, params = _SELECT.format(m=mark), cast(tuple[Any, ...], (run_id, key))
    if after is not None:
        sql, params = f"{sql} AND (step, ts, id) > ({mark}, {mark}, {mark})", (*params, *after)
    if min_step is not None:
        sql, params = f"{sql} AND step >= {mark}", (*params, min_step)
    if max_step is not None:
        sql, params = f"{sql} AND step <= {mark}", (*params, max_step)
    if limit is None:
        sql, params = f"{sql}{_ORDER} LIMIT {'-1' if conn.dialect.name == 'sqlite' else 'ALL'}", params
    else:
        sql, params = f"{sql}{_ORDER} LIMIT {mark}", (*params, limit + 1)
    rows = _fetch(conn, f"{sql} OFFSET {mark}", (*params, offset))
    if limit is None or len(rows) <= limit:
        return _points(rows), None
    last = rows[limit - 1]
    return _points(rows[:limit]), (last[2], last[3], last[4])
