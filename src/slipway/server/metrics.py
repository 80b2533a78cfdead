"""Prometheus metrics of the platform API.

A plain ASGI middleware rather than ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware``
reads the request in a task group, which turns an error raised while the body is read (such as
:class:`~slipway.core.errors.PayloadTooLarge`) into an exception group that no handler matches.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry()
REQUESTS = Counter("slipway_api_requests_total", "Platform API requests", ["route", "code"], registry=REGISTRY)
LATENCY = Histogram("slipway_api_request_seconds", "Platform API latency", ["route"], registry=REGISTRY)


def exposition(db: Any) -> bytes:
    """The API's own metrics, the monitoring gauges of the latest stored monitor runs
    (:mod:`slipway.monitoring.gauges`) and the feature views' freshness
    (:mod:`slipway.features.gauges`), the last two read from the store at each scrape."""
    from slipway.features.gauges import FeatureCollector
    from slipway.monitoring.gauges import MonitorCollector

    monitoring = CollectorRegistry(auto_describe=False)
    monitoring.register(MonitorCollector(db))
    monitoring.register(FeatureCollector(db))
    return generate_latest(REGISTRY) + generate_latest(monitoring)


class RequestMetrics:
    """Count requests by route and status, and time them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            name = getattr(scope.get("route"), "path", "unmatched")
            REQUESTS.labels(name, str(status)).inc()
            LATENCY.labels(name).observe(time.perf_counter() - start)
