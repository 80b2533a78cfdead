"""Prometheus metrics of the platform API."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry()
REQUESTS = Counter("slipway_api_requests_total", "Platform API requests", ["route", "code"], registry=REGISTRY)
LATENCY = Histogram("slipway_api_request_seconds", "Platform API latency", ["route"], registry=REGISTRY)


async def track_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    start = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    name = getattr(route, "path", "unmatched")
    REQUESTS.labels(name, str(response.status_code)).inc()
    LATENCY.labels(name).observe(time.perf_counter() - start)
    return response
