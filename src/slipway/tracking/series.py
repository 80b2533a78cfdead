"""A metric's history downsampled in SQL, so a chart of a million points draws from a few thousand.

The step range is cut into ``max_points // 2`` equal buckets; each bucket is one row of a
``GROUP BY`` carrying its first and last step (and time) and its smallest and largest value, and
becomes two points: the minimum at the bucket's first step, the maximum at its last. Spikes and
dips therefore survive (an average would hide them), the database returns at most ``max_points``
rows whatever the series' length, and nothing but those rows crosses into Python. A series short
enough is returned whole. NaN points are left out of the chart (they are flagged in the store).

The ``GROUP BY`` still reads every point of the range, about a second per million points on this
machine, so results are kept in a small in-process cache for up to ``CACHE_SECONDS``. An entry is
used only while the series' newest point (its ``latest_metrics`` row, one primary-key lookup) is
unchanged, so a chart of a run that is still logging is recomputed at once; a point logged at an
older step than the newest shows when the entry expires.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Connection, func, select

from slipway.core.errors import InvalidInput
from slipway.store.schema.tracking import latest_metrics
from slipway.store.schema.tracking import metrics as metric_points

MAX_CHART_POINTS = 20_000
CACHE_SECONDS = 60.0
CACHE_ENTRIES = 256
_cache: dict[tuple[Any, ...], tuple[float, tuple[Any, ...], dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def cached_metric_series(conn: Connection, run_id: str, key: str, max_points: int = 2000,
                         min_step: int | None = None, max_step: int | None = None) -> dict[str, Any]:
    """:func:`metric_series` through the cache described in the module docstring."""
    newest = conn.execute(select(latest_metrics.c.step, latest_metrics.c.ts, latest_metrics.c.value,
                                 latest_metrics.c.is_nan)
                          .where(latest_metrics.c.run_id == run_id, latest_metrics.c.key == key)).first()
    entry_key = (str(conn.engine.url), run_id, key, max_points, min_step, max_step)
    token = tuple(newest) if newest is not None else ()
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(entry_key)
    if hit is not None and hit[1] == token and now - hit[0] < CACHE_SECONDS:
        return dict(hit[2])
    result = metric_series(conn, run_id, key, max_points, min_step, max_step)
    with _cache_lock:
        if len(_cache) >= CACHE_ENTRIES:
            _cache.pop(next(iter(_cache)))
        _cache[entry_key] = (now, token, result)
    return dict(result)


def metric_series(conn: Connection, run_id: str, key: str, max_points: int = 2000,
                  min_step: int | None = None, max_step: int | None = None) -> dict[str, Any]:
    """``{"key", "total", "downsampled", "steps", "values", "timestamps"}`` for one metric of a run.

    Args:
        max_points: at most this many points come back (2 to 20,000).
        min_step, max_step: only this range of steps (a chart zoomed in asks again with its range).

    Raises:
        InvalidInput: ``max_points`` out of range.
    """
    if isinstance(max_points, bool) or not isinstance(max_points, int) or not 2 <= max_points <= MAX_CHART_POINTS:
        raise InvalidInput(f"max_points must be an integer from 2 to {MAX_CHART_POINTS}, got {max_points!r}")
    where = [metric_points.c.run_id == run_id, metric_points.c.key == key, metric_points.c.is_nan.is_(False)]
    if min_step is not None:
        where.append(metric_points.c.step >= min_step)
    if max_step is not None:
        where.append(metric_points.c.step <= max_step)
    low, high, total = conn.execute(select(func.min(metric_points.c.step), func.max(metric_points.c.step),
                                           func.count()).where(*where)).one()
    result: dict[str, Any] = {"key": key, "total": int(total), "downsampled": False,
                              "steps": [], "values": [], "timestamps": []}
    if not total:
        return result
    if total <= max_points:
        rows = conn.execute(select(metric_points.c.step, metric_points.c.value, metric_points.c.ts).where(*where)
                            .order_by(metric_points.c.step, metric_points.c.ts, metric_points.c.id)).all()
        result.update(steps=[r.step for r in rows], values=[r.value for r in rows],
                      timestamps=[r.ts for r in rows])
        return result
    buckets = max_points // 2
    span = int(high) - int(low) + 1
    bucket = ((metric_points.c.step - int(low)) * buckets) // span
    grouped = conn.execute(
        select(func.min(metric_points.c.step).label("first"), func.max(metric_points.c.step).label("last"),
               func.min(metric_points.c.value).label("lowest"), func.max(metric_points.c.value).label("highest"),
               func.min(metric_points.c.ts).label("t0"), func.max(metric_points.c.ts).label("t1"))
        .where(*where).group_by(bucket).order_by(bucket)
    ).all()
    steps: list[int] = []
    values: list[float] = []
    times: list[int] = []
    for row in grouped:
        steps.append(row.first)
        values.append(row.lowest)
        times.append(row.t0)
        if row.last != row.first or row.highest != row.lowest:
            steps.append(row.last)
            values.append(row.highest)
            times.append(row.t1)
    result.update(downsampled=True, steps=steps, values=values, timestamps=times)
    return result
