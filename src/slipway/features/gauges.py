"""Prometheus gauges of the feature views' freshness, for the platform server's ``/metrics``.

Read at scrape time from the feature tables (one query for the current views, one for their
materialisation state), so every platform server exports the same numbers and nothing is kept in
memory between scrapes. Every series carries ``view`` (its name) and ``version``.

================================================  ====================================================
``slipway_feature_view_stale``                    1 when never materialised or the watermark is older than the TTL
``slipway_feature_view_watermark_timestamp_seconds``  every source row up to this event time is online
``slipway_feature_view_newest_event_timestamp_seconds``  the newest event time written online
``slipway_feature_view_age_seconds``              now minus the watermark
``slipway_feature_view_ttl_seconds``              the view's TTL (0: none)
``slipway_feature_view_last_run_timestamp_seconds``  when the latest materialisation finished
``slipway_feature_view_rows_written``             keys written by the latest materialisation
================================================  ====================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select

from slipway.core.clock import now_ms
from slipway.store.schema.features import feature_definitions as defs
from slipway.store.schema.features import feature_materializations as states

_SPECS = {
    "stale": "1 when the view was never materialised or its watermark is older than its TTL",
    "watermark_timestamp_seconds": "Every source row with event time up to this is in the online store",
    "newest_event_timestamp_seconds": "The newest event time written to the online store",
    "age_seconds": "Seconds since the view's watermark",
    "ttl_seconds": "The view's TTL in seconds (0: no limit)",
    "last_run_timestamp_seconds": "Unix time the latest materialisation finished",
    "rows_written": "Keys written by the latest materialisation",
}
METRIC_NAMES = [f"slipway_feature_view_{key}" for key in _SPECS]


def is_stale(ttl_seconds: int | None, watermark_ms: int | None, now: int) -> bool:
    """Never materialised, or the watermark is older than the TTL (what ``features ls`` shows)."""
    return watermark_ms is None or bool(ttl_seconds and now - watermark_ms > ttl_seconds * 1000)


class FeatureCollector(Collector):
    """Collects the gauges above from a :class:`~slipway.store.database.Database`."""

    def __init__(self, db: Any, clock: Callable[[], int] = now_ms) -> None:
        self._db = db
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {key: GaugeMetricFamily(f"slipway_feature_view_{key}", text, labels=["view", "version"])
                    for key, text in _SPECS.items()}
        now = self._clock()
        with self._db.read() as conn:
            views = list(conn.execute(select(defs.c.name, defs.c.version, defs.c.spec).where(
                defs.c.kind == "feature_view", defs.c.current.is_(True)).order_by(defs.c.name)))
            found = {r.view: r for r in conn.execute(select(states))}
        for view in views:
            spec = orjson.loads(view.spec)
            if not spec.get("online", True):
                continue
            labels = [view.name, str(view.version)]
            state = found.get(view.name)
            if state is not None and int(state.view_version) != int(view.version):
                state = None
            ttl = spec.get("ttl_seconds")
            watermark = None if state is None else int(state.watermark_ms)
            families["stale"].add_metric(labels, 1.0 if is_stale(ttl, watermark, now) else 0.0)
            families["ttl_seconds"].add_metric(labels, float(ttl or 0))
            if state is None:
                continue
            families["watermark_timestamp_seconds"].add_metric(labels, watermark / 1000.0)  # type: ignore[operator]
            families["age_seconds"].add_metric(labels, max(0.0, (now - watermark) / 1000.0))  # type: ignore[operator]
            if state.max_event_ms is not None:
                families["newest_event_timestamp_seconds"].add_metric(labels, int(state.max_event_ms) / 1000.0)
            families["last_run_timestamp_seconds"].add_metric(labels, int(state.last_run_ms) / 1000.0)
            families["rows_written"].add_metric(labels, float(state.rows))
        yield from families.values()
