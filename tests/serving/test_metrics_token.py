"""A Prometheus scrape token on /metrics of both servers (issue 13.11)."""

from __future__ import annotations

import asyncio

import httpx

from slipway.serving.model import served_from_object
from tests.serving.asgi import FAST, in_process, make_app, on_socket
from tests.serving.model_classes import TorqueThreshold
from tests.support import make_settings, platform_server

TOKEN = "scrape-secret-1"


def _inference_app(home, **settings):  # type: ignore[no-untyped-def]
    from slipway.workspace import open_workspace

    ws = open_workspace(make_settings(home, **settings))
    model = served_from_object("m", "1", TorqueThreshold(), {"inputs": [{"name": "Torque [Nm]", "type": "double"}]})
    return make_app(ws, FAST, models=[model])


def test_inference_metrics_need_the_scrape_token_when_set(home) -> None:
    async def scenario() -> None:
        async with in_process(_inference_app(home, metrics_token=TOKEN)) as client:
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": f"Basic {TOKEN}"}):
                refused = await client.get("/metrics", headers=headers)
                assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
                assert "scrape token" in refused.json()["error"]
            scraped = await client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
            assert scraped.status_code == 200
            assert 'slipway_inference_rejected_requests_total{code="401",protocol="metrics"} 3.0' in scraped.text
            assert (await client.get("/healthz")).status_code == 200  # probes stay open

    asyncio.run(scenario())
    with on_socket(_inference_app(home, metrics_token=TOKEN)) as url:
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
    with on_socket(_inference_app(home)) as url:  # no token configured: open, as before
        assert httpx.get(f"{url}/metrics").status_code == 200


def test_platform_metrics_need_the_scrape_token_when_set(home) -> None:
    with platform_server(make_settings(home, metrics_token=TOKEN)) as (url, admin_token):
        refused = httpx.get(f"{url}/metrics")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        # A platform admin token is not the scrape token.
        assert httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {admin_token}"}).status_code == 401
        scraped = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200 and "slipway_api_requests_total" in scraped.text
    with platform_server(make_settings(home)) as (url, _):
        assert httpx.get(f"{url}/metrics").status_code == 200
