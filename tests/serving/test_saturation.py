"""A few seconds of load at saturation over a real socket: every answer is a 200 and correct."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.serving.asgi import make_app, on_socket
from tests.serving.helpers import FEATURES


def test_saturation_gives_no_server_errors(champion_ws, ai4i_data) -> None:
    ws, pipeline = champion_ws
    features, _ = ai4i_data
    chunks = [features.iloc[i * 8:i * 8 + 8] for i in range(50)]
    expected = [pipeline.predict(chunk).tolist() for chunk in chunks]
    bodies = [{"dataframe_split": {"columns": FEATURES, "data": chunk.values.tolist()}} for chunk in chunks]

    async def hammer(url: str, seconds: float, connections: int) -> list[tuple[int, bool]]:
        results: list[tuple[int, bool]] = []
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
            deadline = time.monotonic() + seconds

            async def worker(offset: int) -> None:
                i = offset
                while time.monotonic() < deadline:
                    response = await client.post("/invocations", json=bodies[i % 50])
                    ok = response.status_code == 200 and response.json()["predictions"] == expected[i % 50]
                    results.append((response.status_code, ok))
                    i += 7

            await asyncio.gather(*[worker(k) for k in range(connections)])
        return results

    with on_socket(make_app(ws, model_ref="ai4i@champion")) as url:
        results = asyncio.run(hammer(url, 3.0, 48))
        metrics = httpx.get(url + "/metrics").text
    assert len(results) > 100
    assert all(status == 200 for status, _ in results), {s for s, _ in results}
    assert all(ok for _, ok in results)
    assert 'code="500"' not in metrics
