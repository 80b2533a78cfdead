"""Benchmark ``scale`` (metric history): reading a 10M-point metric series, downsampled and raw, on PostgreSQL.

One run with one metric of N points (N = 100k, 1M and 10M; ``--points``), each size in its own
PostgreSQL database (``--sqlite``: its own SQLite store), kept side by side and measured
round-robin like ``scale.py``'s curves:

- ``series_full_2000`` — ``get_metric_series(run, key, max_points=2000)``: the whole series
  downsampled to at most 2,000 points (min and max per bucket) from the ``metric_buckets``
  summary; what a run's chart asks first.
- ``series_zoom_2000`` — the same for the middle tenth of the steps (a chart zoomed in).
- ``history_first_10k`` — ``get_metric_history_page(run, key, limit=10000)``: the first page of raw
  points.
- ``history_page_10k`` — the page of 10,000 raw points from the middle of the series (steps N/2 …),
  continued from the ``next_token`` of the page before it (a keyset: an index seek).
- ``history_offset_10k`` — the same page the old way, ``get_metric_history(run, key, offset=N/2,
  limit=10000)`` (``OFFSET`` steps over every earlier point); ``--offset-queries`` calls per size
  (3 by default: 10 s a call at 10M), measured after the others.

Loading (set-up, not measured) is done by PostgreSQL itself, in one transaction: the points by
``INSERT … SELECT`` over ``generate_series`` (a noisy decaying curve with a spike every 100,003
steps), the summary by one ``GROUP BY floor(step / width)`` per width of
``slipway.tracking.metric_buckets.WIDTHS``, exactly the rows ``upsert_buckets`` keeps (NaN points
left out; there are none here); the point index is dropped during the load and built after it
(``scale.bulk_load``). Logging 10M points through ``log_batch`` measures ingest, which
``benchmarks/tracking_ingest.py`` does.

Checks: each answer has ``total`` = N, at most 2,000 points, and the full chart's lowest and
highest values equal the series' own ``min`` and ``max`` (computed by the database over every
point), so the spikes survived the downsampling; each raw page has 10,000 points starting at its
step (0 or N/2), and the keyset page equals the offset page. Run::

    .venv/bin/python benchmarks/scale_history.py [--quick] [--sqlite] [--points 100000,1000000,10000000]
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peer  # noqa: E402

import scale  # noqa: E402

RUN = "r-history"
KEY = "loss"


def load_series(uri: str, points: int) -> None:
    import psycopg

    from slipway.core.ids import new_id
    from slipway.tracking.metric_buckets import WIDTHS

    start = 1_700_000_000_000
    experiment = new_id()
    with psycopg.connect(uri) as conn:
        conn.execute("SELECT setseed(0.25)")
        conn.execute("INSERT INTO experiments (id, name, description, lifecycle, created_ms) "
                     "VALUES (%s, 'history', '', 'active', %s)", (experiment, start))
        conn.execute('INSERT INTO runs (id, experiment_id, name, status, start_ms, end_ms, lifecycle, "user") '
                     "VALUES (%s, %s, 'long', 'FINISHED', %s, %s, 'active', %s)",
                     (RUN, experiment, start, start + points, scale.USER))
        with scale.bulk_load(conn, ["metrics"]):
            conn.execute(
                'INSERT INTO metrics (run_id, "key", step, ts, value, is_nan) '
                "SELECT %s, %s, s, %s + s, CASE WHEN s %% 100003 = 50000 THEN 10.0 "
                "ELSE 1.0 / (1 + s / 1000.0) + random() * 0.01 END, false FROM generate_series(0, %s - 1) AS s",
                (RUN, KEY, start, points))
        for width in WIDTHS:
            conn.execute(
                'INSERT INTO metric_buckets (run_id, "key", width, bucket, points, first_step, last_step, '
                "min_value, max_value, first_ts, last_ts) "
                'SELECT run_id, "key", %s, floor(step::numeric / %s)::bigint AS b, count(*), min(step), max(step), '
                "min(value), max(value), min(ts), max(ts) FROM metrics WHERE NOT is_nan "
                'GROUP BY run_id, "key", b', (width, width))
        conn.commit()


def load_series_sqlite(uri: str, points: int) -> None:
    """:func:`load_series` for a SQLite store: the same series (its own random noise) and summary,
    the point index built after the load."""
    import sqlite3

    from slipway.core.ids import new_id
    from slipway.tracking.metric_buckets import WIDTHS

    start = 1_700_000_000_000
    experiment = new_id()
    conn = sqlite3.connect(uri.removeprefix("sqlite:///"))
    try:
        conn.execute("INSERT INTO experiments (id, name, description, lifecycle, created_ms) "
                     "VALUES (?, 'history', '', 'active', ?)", (experiment, start))
        conn.execute('INSERT INTO runs (id, experiment_id, name, status, start_ms, end_ms, lifecycle, "user") '
                     "VALUES (?, ?, 'long', 'FINISHED', ?, ?, 'active', ?)",
                     (RUN, experiment, start, start + points, scale.USER))
        index = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'ix_metrics_run_key_step_ts_id'").fetchone()[0]
        conn.execute("DROP INDEX ix_metrics_run_key_step_ts_id")
        conn.execute(
            'INSERT INTO metrics (run_id, "key", step, ts, value, is_nan) '
            "WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n + 1 < ?) "
            "SELECT ?, ?, n, ? + n, CASE WHEN n % 100003 = 50000 THEN 10.0 "
            "ELSE 1.0 / (1 + n / 1000.0) + (abs(random()) % 10000) / 1e6 END, 0 FROM s",
            (points, RUN, KEY, start))
        conn.execute(index)
        for width in WIDTHS:
            conn.execute(
                'INSERT INTO metric_buckets (run_id, "key", width, bucket, points, first_step, last_step, '
                "min_value, max_value, first_ts, last_ts) "
                'SELECT run_id, "key", ?, step / ? AS b, count(*), min(step), max(step), '
                "min(value), max(value), min(ts), max(ts) FROM metrics WHERE NOT is_nan "
                'GROUP BY run_id, "key", b', (width, width))
        conn.commit()
        conn.execute("ANALYZE")
    finally:
        conn.close()


def _extremes(ws: Any) -> tuple[float, float]:
    with ws._transport.ctx.db.read() as conn:
        row = conn.exec_driver_sql(f"SELECT min(value), max(value) FROM metrics WHERE run_id = '{RUN}'").one()
    return float(row[0]), float(row[1])


def _cases(ws: Any, size: int) -> dict[str, tuple[Callable[[], Any], Callable[[Any], bool]]]:
    tracking = ws.backend("tracking")
    low, high = _extremes(ws)
    middle, page = size // 2, min(10_000, size - size // 2)
    # the token of the page ending just before the middle: what a reader paging there holds
    token = tracking.get_metric_history_page(RUN, KEY, 1, min_step=middle - 1).next_token

    def full_ok(series: dict[str, Any]) -> bool:
        return (series["total"] == size and 0 < len(series["values"]) <= 2000
                and min(series["values"]) == low and max(series["values"]) == high)

    def zoom_ok(series: dict[str, Any]) -> bool:
        return 0 < len(series["values"]) <= 2000 and min(series["steps"]) >= 45 * size // 100

    return {
        "series_full_2000": (lambda: tracking.get_metric_series(RUN, KEY, 2000), full_ok),
        "series_zoom_2000": (lambda: tracking.get_metric_series(RUN, KEY, 2000, 45 * size // 100,
                                                                55 * size // 100 - 1), zoom_ok),
        "history_first_10k": (lambda: tracking.get_metric_history_page(RUN, KEY, 10_000),
                              lambda got: len(got.metrics) == min(10_000, size) and got.metrics[0].step == 0),
        "history_page_10k": (lambda: tracking.get_metric_history_page(RUN, KEY, 10_000, token),
                             lambda got: len(got.metrics) == page and got.metrics[0].step == middle
                             and got.metrics == tracking.get_metric_history(RUN, KEY, middle, 10_000)),
    }


def _offset_case(ws: Any, size: int) -> dict[str, tuple[Callable[[], Any], Callable[[Any], bool]]]:
    tracking = ws.backend("tracking")
    return {"history_offset_10k": (lambda: tracking.get_metric_history(RUN, KEY, size // 2, 10_000),
                                   lambda got: len(got) == min(10_000, size - size // 2) and got[0].step == size // 2)}


def main() -> None:
    parser = _peer.argument_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sqlite", action="store_true", help="SQLite stores instead of PostgreSQL")
    parser.add_argument("--points", default="")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--offset-queries", type=int, default=3, help="calls of the old offset read per size (0: skip)")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases and reuse them next time")
    args = parser.parse_args()
    sizes = [int(s) for s in (args.points or ("10000,100000" if args.quick else "100000,1000000,10000000")).split(",")]
    from slipway.store.database import Database

    family = "metric_history_sqlite" if args.sqlite else "metric_history"
    with contextlib.ExitStack() as stack:
        tables, offsets = {}, {}
        for size in sizes:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            loaded = False
            if args.sqlite:
                uri = f"sqlite:///{home / 'points.db'}"
            elif args.keep:
                uri, loaded = stack.enter_context(scale.kept_database(args.pg, f"slipway_scale_history_{size}"))
            else:
                uri = stack.enter_context(scale.database(args.pg))
            Database(uri).upgrade()
            began = time.perf_counter()
            if args.sqlite:
                load_series_sqlite(uri, size)
            elif not loaded:
                load_series(uri, size)
                scale._analyze(uri)
                if args.keep:
                    scale._mark_loaded(uri)
            megabytes = (home / "points.db").stat().st_size / 2**20 if args.sqlite else scale._database_mb(uri)
            _peer.log(f"{family}: {size:,} points {'reused' if loaded else 'loaded'} in {time.perf_counter() - began:.0f} s; "
                      f"database {megabytes:,.0f} MiB")
            ws = scale._workspace(uri, home)
            stack.callback(ws.close)
            tables[size], offsets[size] = _cases(ws, size), _offset_case(ws, size)
            for call, check in [*tables[size].values(), *offsets[size].values()]:
                scale.check_answers(call, check)
        points = scale.measure(family, tables, args.queries)
        if args.offset_queries:
            points += scale.measure(family, offsets, args.offset_queries)
    scale.finish(points, f"scale-history{'-sqlite' if args.sqlite else ''}-results.json")


if __name__ == "__main__":
    main()
