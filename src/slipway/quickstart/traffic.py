"""Requests against the running server: answers checked against the registered model, and steady
traffic while the canary controller decides."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pandas as pd

from slipway.core.errors import IntegrityError
from slipway.quickstart.server import FEATURES, ask, invocations_body

Progress = Callable[[Any, dict[str, int]], None]


def check_answers(ws: Any, url: str, deployment: str, rows: pd.DataFrame, batch: int = 50) -> dict[str, Any]:
    """Send ``rows`` in batches over v2 and ``/invocations`` and compare every answer with the
    answering version's own predictions (loaded, digest-checked, from the registry).

    Raises:
        IntegrityError: a served answer differs from the registered model's.
    """
    expected: dict[str, np.ndarray] = {}
    answered: collections.Counter[str] = collections.Counter()
    alarms = 0
    with httpx.Client(base_url=url, timeout=30) as client:
        for index, start in enumerate(range(0, len(rows), batch)):
            chunk = rows.iloc[start:start + batch]
            protocol = "v2" if index % 2 == 0 else "invocations"
            version, predicted = ask(client, deployment, chunk, protocol)
            if version not in expected:
                expected[version] = np.asarray(ws.registry.load(version).predict(rows[FEATURES]))
            want = expected[version][start:start + batch]
            if predicted.shape != want.shape or not np.array_equal(predicted.astype(want.dtype), want):
                raise IntegrityError(f"{version} answered {protocol} differently from the registered model "
                                     f"for rows {start}-{start + len(chunk) - 1}")
            answered[f"{version} ({protocol})"] += len(chunk)
            alarms += int(np.sum(predicted))
    return {"rows": len(rows), "answered": dict(answered), "alarms": alarms,
            "failures": int(rows["Machine failure"].sum()) if "Machine failure" in rows else None}


def drive_canary(ws: Any, url: str, deployment: str, rows: pd.DataFrame, on_progress: Progress,
                 timeout: float = 120.0, senders: int = 4) -> tuple[Any, dict[str, int]]:
    """One-row ``/invocations`` requests from ``senders`` threads until the deployment's canary is
    promoted or rolled back by the server's controller (or ``timeout`` passes).

    Returns:
        The deployment as the controller left it, and the answers counted by ``variant status``.
    """
    stop = threading.Event()
    lock = threading.Lock()
    seen: collections.Counter[str] = collections.Counter()
    records = [rows.iloc[[i]] for i in range(len(rows))]

    def send(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            position = offset
            while not stop.is_set():
                try:
                    response = client.post("/invocations", json=invocations_body(records[position % len(records)]))
                    key = f"{response.headers.get('x-slipway-variant', '?')} {response.status_code}"
                except httpx.HTTPError as err:
                    key = f"transport error {type(err).__name__}"
                with lock:
                    seen[key] += 1
                position += senders

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(senders)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            deployment_now = ws.serving.get(deployment)
            with lock:
                snapshot = dict(seen)
            on_progress(deployment_now, snapshot)
            if deployment_now.status in ("promoted", "rolled_back") or time.monotonic() > deadline:
                return deployment_now, snapshot
            time.sleep(0.25)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
