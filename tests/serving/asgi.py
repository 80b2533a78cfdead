"""Running an inference app in-process (httpx.ASGITransport, with its lifespan) or on a socket."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from slipway.serving.app import create_inference_app
from slipway.serving.options import ServeOptions
from slipway.serving.runtime import ServerRuntime
from tests.support import ServerThread

FAST = ServeOptions(reload_seconds=0.1, stats_seconds=0.1, controller_seconds=0.1, flush_seconds=0.2)


def make_app(ws: Any, options: ServeOptions = FAST, **target: Any) -> Any:
    app = create_inference_app(ServerRuntime(ws, options, **target))
    assert "/invocations" in {getattr(route, "path", "") for route in app.routes}  # an inference app, not another
    return app


@contextlib.asynccontextmanager
async def in_process(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client talking to ``app`` in this process; the app's lifespan runs around it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inference") as client:
            yield client


@contextlib.contextmanager
def on_socket(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a loopback port; yields its URL."""
    with ServerThread(app) as server:
        assert server.url.startswith("http://127.0.0.1:")
        yield server.url
