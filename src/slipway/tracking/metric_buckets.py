"""The summary of every metric series that charts read: per step bucket, at several widths.

For each width in :data:`WIDTHS` (16, 256, 4096 and 65,536 steps) a series has one ``metric_buckets`` row
per non-empty bucket ``floor(step / width)``: its point count, first and last step, smallest and
largest value, earliest and latest time. NaN points are left out (charts do not draw them).
:func:`upsert_buckets` runs in the transaction that stores the points (``insert_points`` calls
it), so the summary never disagrees with the points: a batch is summarised in Python, one pass
for the finest width and the coarser widths from it, and merged into the table with one
``INSERT … ON CONFLICT DO UPDATE`` that SQLite (3.24+) and PostgreSQL both accept.

Because each width is 16 times the one below, a bucket of any width is a whole number of
buckets of every finer width; :mod:`slipway.tracking.series` relies on that to answer any step
range from at most a few thousand rows of one width plus a few rows at its edges.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from slipway.store.upsert import insert_many

WIDTHS = (16, 256, 4096, 65536)  # 16**1 … 16**4; the migration 0023 repeats it
_SHIFT = 4  # log2 of the ratio between two widths

BucketRow = tuple[str, str, int, int, int, int, int, float, float, int, int]
_COLUMNS = '(run_id, "key", width, bucket, points, first_step, last_step, min_value, max_value, first_ts, last_ts)'


def _merged(old: list[Any], new: list[Any]) -> None:
    old[0] += new[0]
    old[1] = min(old[1], new[1])
    old[2] = max(old[2], new[2])
    old[3] = min(old[3], new[3])
    old[4] = max(old[4], new[4])
    old[5] = min(old[5], new[5])
    old[6] = max(old[6], new[6])


def bucket_rows(rows: list[tuple[str, str, int, int, float, bool]]) -> list[BucketRow]:
    """The summary rows of a batch of stored points ``(run_id, key, step, ts, value, is_nan)``:
    one per (series, width, bucket) the batch touches."""
    level: dict[tuple[str, str, int], list[Any]] = {}
    for run_id, key, step, ts, value, nan in rows:
        if nan:
            continue
        found = level.get((run_id, key, step >> _SHIFT))  # >> floors, as the bucket must
        if found is None:
            level[(run_id, key, step >> _SHIFT)] = [1, step, step, value, value, ts, ts]
            continue
        found[0] += 1
        if step < found[1]:
            found[1] = step
        elif step > found[2]:
            found[2] = step
        if value < found[3]:
            found[3] = value
        elif value > found[4]:
            found[4] = value
        if ts < found[5]:
            found[5] = ts
        elif ts > found[6]:
            found[6] = ts
    out: list[BucketRow] = []
    for width in WIDTHS:
        out.extend((run_id, key, width, bucket, *agg) for (run_id, key, bucket), agg in level.items())
        coarser: dict[tuple[str, str, int], list[Any]] = {}
        for (run_id, key, bucket), agg in level.items():
            found = coarser.get((run_id, key, bucket >> _SHIFT))
            if found is None:
                coarser[(run_id, key, bucket >> _SHIFT)] = list(agg)
            else:
                _merged(found, agg)
        level = coarser
    return out


def _smaller(column: str) -> str:
    return f"CASE WHEN excluded.{column} < metric_buckets.{column} THEN excluded.{column} ELSE metric_buckets.{column} END"


def _larger(column: str) -> str:
    return f"CASE WHEN excluded.{column} > metric_buckets.{column} THEN excluded.{column} ELSE metric_buckets.{column} END"


_TYPES = ("text", "text", *["bigint"] * 5, "float8", "float8", "bigint", "bigint")  # PostgreSQL's, for insert_many
_CONFLICT = (
    'ON CONFLICT (run_id, "key", width, bucket) DO UPDATE SET points = metric_buckets.points + excluded.points, '
    f"first_step = {_smaller('first_step')}, last_step = {_larger('last_step')}, "
    f"min_value = {_smaller('min_value')}, max_value = {_larger('max_value')}, "
    f"first_ts = {_smaller('first_ts')}, last_ts = {_larger('last_ts')}"
)


def upsert_buckets(conn: Connection, rows: list[tuple[str, str, int, int, float, bool]]) -> None:
    """Merge a batch of stored points into the summary, in ``conn``'s transaction."""
    # bucket_rows gives one row per (series, width, bucket), as one statement's ON CONFLICT needs.
    insert_many(conn, "metric_buckets", _COLUMNS, _TYPES, bucket_rows(rows), _CONFLICT)
