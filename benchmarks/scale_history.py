"""Benchmark ``scale`` (metric history): reading a 10M-point metric series, downsampled, on PostgreSQL.

One run with one metric of N points (N = 100k, 1M and 10M; ``--points``), each size in its own
PostgreSQL database, kept side by side and measured round-robin like ``scale.py``'s curves:

- ``series_full_2000`` — ``get_metric_series(run, key, max_points=2000)``: the whole series
  downsampled to at most 2,000 points (min and max per bucket) from the ``metric_buckets``
  summary; what a run's chart asks first.
- ``series_zoom_2000`` — the same for the middle tenth of the steps (a chart zoomed in).
- ``history_page_10k`` — ``get_metric_history(run, key, offset=N/2, limit=10000)``: a page of raw
  points from the middle of the series (the MLflow-style paged read).

Loading (set-up, not measured) is done by PostgreSQL itself, in one transaction: the points by
``INSERT … SELECT`` over ``generate_series`` (a noisy decaying curve with a spike every 100,003
steps), the summary by one ``GROUP BY floor(step / width)`` per width of
``slipway.tracking.metric_buckets.WIDTHS``, exactly the rows ``upsert_buckets`` keeps (NaN points
left out; there are none here); the point index is dropped during the load and built after it
(``scale.bulk_load``). Logging 10M points through ``log_batch`` measures ingest, which
``benchmarks/tracking_ingest.py`` does.

Checks: each answer has ``total`` = N, at most 2,000 points, and the full chart's lowest and
highest values equal the series' own ``min`` and ``max`` (computed by PostgreSQL over every point),
so the spikes survived the downsampling. Run::

    .venv/bin/python benchmarks/scale_history.py [--quick] [--points 100000,1000000,10000000]
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


def _extremes(uri: str) -> tuple[float, float]:
    import psycopg

    with psycopg.connect(uri) as conn:
        row = conn.execute("SELECT min(value), max(value) FROM metrics WHERE run_id = %s", (RUN,)).fetchone()
    assert row is not None
    return float(row[0]), float(row[1])


def _cases(ws: Any, size: int, uri: str) -> dict[str, tuple[Callable[[], Any], Callable[[Any], bool]]]:
    tracking = ws.backend("tracking")
    low, high = _extremes(uri)

    def full_ok(series: dict[str, Any]) -> bool:
        return (series["total"] == size and 0 < len(series["values"]) <= 2000
                and min(series["values"]) == low and max(series["values"]) == high)

    def zoom_ok(series: dict[str, Any]) -> bool:
        return 0 < len(series["values"]) <= 2000 and min(series["steps"]) >= 45 * size // 100

    return {
        "series_full_2000": (lambda: tracking.get_metric_series(RUN, KEY, 2000), full_ok),
        "series_zoom_2000": (lambda: tracking.get_metric_series(RUN, KEY, 2000, 45 * size // 100,
                                                                55 * size // 100 - 1), zoom_ok),
        "history_page_10k": (lambda: tracking.get_metric_history(RUN, KEY, size // 2, 10_000),
                             lambda page: len(page) == min(10_000, size - size // 2) and page[0].step == size // 2),
    }


def main() -> None:
    parser = _peer.argument_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--points", default="")
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    sizes = [int(s) for s in (args.points or ("10000,100000" if args.quick else "100000,1000000,10000000")).split(",")]
    from slipway.store.database import Database

    with contextlib.ExitStack() as stack:
        tables = {}
        for size in sizes:
            uri = stack.enter_context(scale.database(args.pg))
            Database(uri).upgrade()
            began = time.perf_counter()
            load_series(uri, size)
            scale._analyze(uri)
            _peer.log(f"metric_history: {size:,} points loaded in {time.perf_counter() - began:.0f} s; "
                      f"database {scale._database_mb(uri):,.0f} MiB")
            ws = scale._workspace(uri, Path(stack.enter_context(tempfile.TemporaryDirectory())))
            stack.callback(ws.close)
            tables[size] = _cases(ws, size, uri)
            for call, check in tables[size].values():
                scale.check_answers(call, check)
        points = scale.measure("metric_history", tables, args.queries)
    scale.finish(points, "scale-history-results.json")


if __name__ == "__main__":
    main()
