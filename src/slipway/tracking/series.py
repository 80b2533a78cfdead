"""A metric's history downsampled for a chart, read from the series' summary rather than its points.

The step range is cut into at most ``max_points // 2`` buckets of ``W`` steps each, aligned on
multiples of ``W`` (bucket ``floor(step / W)``); each becomes two points: the bucket's smallest
value at its first step and its largest at its last. Spikes and dips therefore survive (an
average would hide them) and at most ``max_points`` points come back whatever the series' length.
A range short enough is returned whole. NaN points are left out of the chart.

``W`` is a multiple of one of the summary's widths (:mod:`slipway.tracking.metric_buckets`,
powers of 16), at most 8 times that width, so each chart bucket is a whole number of summary
buckets: one ``GROUP BY`` over at most about ``8 * max_points / 2`` summary rows answers it, and the
answer is exactly the one a pass over every point would give. A range whose ends fall inside a
summary bucket is covered by finer widths towards each end and by the raw points of the last few
steps (a handful of rows each). Nothing reads the whole series, so the first view of a
million-point series costs what later views cost, and a point just logged is in the next answer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, case, func, literal, select, union_all

from slipway.core.errors import InvalidInput
from slipway.store.schema.tracking import metric_buckets
from slipway.store.schema.tracking import metrics as metric_points
from slipway.tracking.metric_buckets import WIDTHS

MAX_CHART_POINTS = 20_000
LOWEST, HIGHEST = -(2**63), 2**63 - 1  # the range of a stored step

# A piece of a step range: (index of the width in WIDTHS, first bucket, last bucket), or
# (-1, first step, last step) for raw points.
Piece = tuple[int, int, int]


def _cover(low: int, high: int, level: int) -> list[Piece]:
    """Pieces covering steps ``low..high`` exactly, with widths up to ``WIDTHS[level]``: the whole
    buckets of that width inside the range, and finer pieces for what is left at either end."""
    if level < 0:
        return [(-1, low, high)]
    width = WIDTHS[level]
    first, last = -(-low // width), (high + 1) // width - 1
    if first > last:
        return _cover(low, high, level - 1)
    pieces = [(level, first, last)]
    if low < first * width:
        pieces += _cover(low, first * width - 1, level - 1)
    if (last + 1) * width - 1 < high:
        pieces += _cover((last + 1) * width, high, level - 1)
    return pieces


def _floor_div(column: Any, divisor: int) -> ColumnElement[Any]:
    # SQL integer division truncates towards zero; a bucket is the floor.
    return case((column >= 0, column // divisor), else_=(column + 1) // divisor - 1)


def _piece_select(run_id: str, key: str, piece: Piece, chart_width: int | None) -> Select[Any]:
    """One piece's rows as (chart bucket, points, first, last, lowest, highest, t0, t1)."""
    level, first, last = piece
    if level < 0:
        m = metric_points.c
        target = _floor_div(m.step, chart_width) if chart_width else literal(0)
        return select(target.label("b"), literal(1).label("n"), m.step.label("s0"), m.step.label("s1"),
                      m.value.label("lo"), m.value.label("hi"), m.ts.label("t0"), m.ts.label("t1")).where(
            m.run_id == run_id, m.key == key, m.is_nan.is_(False), m.step >= first, m.step <= last)
    b = metric_buckets.c
    width = WIDTHS[level]
    target = _floor_div(b.bucket, chart_width // width) if chart_width else literal(0)
    return select(target.label("b"), b.points.label("n"), b.first_step.label("s0"), b.last_step.label("s1"),
                  b.min_value.label("lo"), b.max_value.label("hi"), b.first_ts.label("t0"),
                  b.last_ts.label("t1")).where(b.run_id == run_id, b.key == key, b.width == width,
                                                 b.bucket >= first, b.bucket <= last)


def _grouped(conn: Connection, run_id: str, key: str, pieces: list[Piece], chart_width: int | None) -> list[Any]:
    """The pieces' rows summed per chart bucket (one bucket for all when ``chart_width`` is None)."""
    parts = union_all(*[_piece_select(run_id, key, p, chart_width) for p in pieces]).subquery()
    return list(conn.execute(
        select(parts.c.b, func.sum(parts.c.n).label("n"), func.min(parts.c.s0).label("first"),
               func.max(parts.c.s1).label("last"), func.min(parts.c.lo).label("lowest"),
               func.max(parts.c.hi).label("highest"), func.min(parts.c.t0).label("t0"),
               func.max(parts.c.t1).label("t1"))
        .group_by(parts.c.b).order_by(parts.c.b)).all())


def _chart_width(low: int, high: int, buckets: int) -> tuple[int, int]:
    """The chart bucket width ``W`` for at most ``buckets`` buckets over ``low..high``, and the index
    of the summary width it is a multiple of (-1: narrower than any, read the points).

    Aligned buckets over a span of S steps number at most ceil((S - 1) / W) + 1, so W must be at
    least S / (B - 1). It is rounded up to a multiple of the widest summary width not above twice
    that: the chart keeps at least half its buckets and reads at most about 8 summary rows per bucket.
    """
    least = -(-(high - low + 1) // (buckets - 1))
    level = max((i for i, width in enumerate(WIDTHS) if width <= 2 * least), default=-1)
    if level < 0:
        return least, -1
    width = WIDTHS[level]
    return width * -(-least // width), level


def metric_series(conn: Connection, run_id: str, key: str, max_points: int = 2000,
                  min_step: int | None = None, max_step: int | None = None) -> dict[str, Any]:
    """``{"key", "total", "downsampled", "steps", "values", "timestamps"}`` for one metric of a run.

    Args:
        max_points: at most this many points come back (2 to 20,000).
        min_step, max_step: only this range of steps (a chart zoomed in asks again with its range).

    Raises:
        InvalidInput: ``max_points`` out of range, or a step outside the stored range.
    """
    if isinstance(max_points, bool) or not isinstance(max_points, int) or not 2 <= max_points <= MAX_CHART_POINTS:
        raise InvalidInput(f"max_points must be an integer from 2 to {MAX_CHART_POINTS}, got {max_points!r}")
    for step in (min_step, max_step):
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or not LOWEST <= step <= HIGHEST):
            raise InvalidInput(f"a step bound is a whole number within 64 bits, got {step!r}")
    low = LOWEST if min_step is None else min_step
    high = HIGHEST if max_step is None else max_step
    result: dict[str, Any] = {"key": key, "total": 0, "downsampled": False, "steps": [], "values": [],
                              "timestamps": []}
    if low > high:
        return result
    found = _grouped(conn, run_id, key, _cover(low, high, len(WIDTHS) - 1), None)
    if not found:
        return result
    whole = found[0]
    result["total"] = total = int(whole.n)
    if total <= max_points:
        m = metric_points.c
        rows = conn.execute(select(m.step, m.value, m.ts).where(
            m.run_id == run_id, m.key == key, m.is_nan.is_(False), m.step >= whole.first, m.step <= whole.last)
            .order_by(m.step, m.ts, m.id)).all()
        result.update(steps=[r.step for r in rows], values=[r.value for r in rows], timestamps=[r.ts for r in rows])
        return result
    first, last = int(whole.first), int(whole.last)
    if max_points // 2 == 1:  # one bucket: the whole range
        grouped = [whole]
    else:
        chart_width, level = _chart_width(first, last, max_points // 2)
        grouped = _grouped(conn, run_id, key, _cover(first, last, level), chart_width)
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
