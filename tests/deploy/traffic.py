"""Sending AI4I rows to an in-process inference app and counting which variant answered."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import httpx
import pandas as pd


async def send(client: httpx.AsyncClient, rows: pd.DataFrame, count: int, concurrency: int = 50,
               headers: dict[str, str] | None = None) -> collections.Counter[tuple[str, int]]:
    """``count`` one-row /invocations requests; a Counter of (variant, status)."""
    records = rows.to_dict("records")
    seen: collections.Counter[tuple[str, int]] = collections.Counter()

    async def one(i: int) -> None:
        response = await client.post("/invocations", json={"dataframe_records": [records[i % len(records)]]},
                                     headers=headers)
        variant = response.headers.get("x-slipway-variant", "?")
        # Every answer from a variant names it: a 200 without the header would be counted nowhere.
        assert response.status_code != 200 or variant != "?", response.headers
        seen[(variant, response.status_code)] += 1

    for start in range(0, count, concurrency):
        await asyncio.gather(*[one(i) for i in range(start, min(count, start + concurrency))])
    return seen


async def until(condition: Any, client: httpx.AsyncClient, rows: pd.DataFrame, timeout: float = 40.0,
                batch: int = 50) -> collections.Counter[tuple[str, int]]:
    """Keep sending traffic until ``condition()`` (a blocking check run off-loop) is true."""
    seen: collections.Counter[tuple[str, int]] = collections.Counter()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await asyncio.to_thread(condition):
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached in {timeout} s; traffic so far {dict(seen)}")
        seen.update(await send(client, rows, batch))
    return seen
