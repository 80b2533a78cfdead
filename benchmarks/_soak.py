"""Per-minute figures of a soak and the memory trend that tells warm-up from growth.

A soak samples the server's resident memory (RSS) and its latencies as it goes. Memory always
rises at first (imports finishing, caches and the allocator's arenas filling under a new load);
a leak keeps rising. So the trend is fitted on the *last two thirds* of the per-minute medians
only (least squares, MB per minute) and projected over an hour: the soak's memory is ``flat``
when that projection stays under 10 % of the RSS (or 20 MB, for small processes).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence


def per_minute(samples: Iterable[tuple[float, float]]) -> list[list[float]]:
    """``(seconds since start, value)`` samples grouped by minute (minute 0 first)."""
    minutes: dict[int, list[float]] = defaultdict(list)
    for at, value in samples:
        minutes[int(at // 60)].append(value)
    return [minutes.get(m, []) for m in range(max(minutes) + 1)] if minutes else []


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")


def slope(values: Sequence[float]) -> float:
    """Least-squares slope of ``values`` against their index (units per step)."""
    if len(values) < 2:
        return 0.0
    xs = range(len(values))
    mx, my = statistics.fmean(xs), statistics.fmean(values)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, values, strict=True)) / den


def memory_trend(rss_per_minute: Sequence[float]) -> dict[str, float | bool]:
    """The slope of the last two thirds of the per-minute RSS (MB/min), its projection over an
    hour, and whether that is flat (under 10 % of the RSS, or under 20 MB)."""
    tail = list(rss_per_minute[len(rss_per_minute) // 3:])
    per_min = slope(tail)
    level = tail[-1] if tail else 0.0
    per_hour = per_min * 60
    return {"warmup_mb": round((tail[0] if tail else 0.0) - (rss_per_minute[0] if rss_per_minute else 0.0), 1),
            "slope_mb_per_min": round(per_min, 2), "projected_mb_per_hour": round(per_hour, 1),
            "flat": per_hour <= max(0.10 * level, 20.0)}
