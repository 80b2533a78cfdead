"""Requests against the running inference server, the way a user's application sends them (Open
Inference Protocol v2 and MLflow's ``/invocations``): answers checked against the registered
model, and steady traffic while the canary controller decides."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pandas as pd
from report import DEPLOYMENT, Reporter

from slipway import BackendUnavailable, Conflict, IntegrityError, NotFound, Workspace

FEATURES = ["Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
            "Tool wear [min]"]
V2_TYPES = {"object": "BYTES", "str": "BYTES", "int64": "INT64", "float64": "FP64"}
Progress = Callable[[Any, dict[str, int]], None]


def invocations_body(rows: pd.DataFrame) -> dict[str, Any]:
    """MLflow's ``dataframe_split`` body for ``rows``."""
    return {"dataframe_split": {"columns": FEATURES, "data": rows[FEATURES].to_numpy().tolist()}}


def v2_body(rows: pd.DataFrame) -> dict[str, Any]:
    """An Open Inference Protocol v2 body: one tensor per column."""
    return {"inputs": [{"name": column, "shape": [len(rows)], "datatype": V2_TYPES[str(rows[column].dtype)],
                        "data": rows[column].tolist()} for column in FEATURES]}


def ask(client: httpx.Client, rows: pd.DataFrame, protocol: str) -> tuple[str, np.ndarray]:
    """Send ``rows`` once; returns the model version that answered and its predictions."""
    if protocol == "v2":
        response = client.post(f"/v2/models/{DEPLOYMENT}/infer", json=v2_body(rows))
    else:
        response = client.post("/invocations", json=invocations_body(rows))
    if response.status_code != 200:
        raise BackendUnavailable(f"{protocol} request answered {response.status_code}: {response.text[:200]}")
    body = response.json()
    values = body["outputs"][0]["data"] if protocol == "v2" else body["predictions"]
    return response.headers["x-slipway-model-version"], np.asarray(values)


def check_answers(ws: Workspace, url: str, rows: pd.DataFrame, batch: int = 50) -> dict[str, Any]:
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
            version, predicted = ask(client, chunk, protocol)
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


def drive_canary(ws: Workspace, url: str, rows: pd.DataFrame, on_progress: Progress,
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
            deployment_now = ws.serving.get(DEPLOYMENT)
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


def judge_canary(ws: Workspace, url: str, rows: pd.DataFrame, reporter: Reporter, timeout: float) -> str:
    """Send ``rows`` as traffic while the server's controller judges the deployment's canary;
    returns its verdict (``promoted`` or ``rolled back``). Without a canary (a second run), the
    verdict of the latest canary is reported from the deployment's history.

    Raises:
        Conflict: the controller did not decide within ``timeout`` seconds.
    """
    deployment = ws.serving.get(DEPLOYMENT)
    canary = next((v for v in deployment.variants if v.role == "canary"), None)
    if canary is None:
        return _report_verdict(ws, reporter, "decided earlier")
    reporter.info(f"{canary.model}/{canary.version} takes {canary.weight:g}% of traffic; steps "
                  f"{deployment.spec['canary']['steps']}, at least {deployment.spec['canary']['min_requests']} "
                  "canary requests per step")
    final, answers = drive_canary(ws, url, rows, reporter.canary, timeout)
    reporter.end_canary()
    reporter.info("traffic: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(answers.items())))
    if final.status not in ("promoted", "rolled_back"):
        raise Conflict(f"the canary controller did not decide within {timeout:g} s (deployment {DEPLOYMENT} "
                       f"is {final.status}); see: slipway deploy status {DEPLOYMENT}")
    return _report_verdict(ws, reporter, "")


def _report_verdict(ws: Workspace, reporter: Reporter, note: str) -> str:
    """Print the controller's decisions of the latest canary (from the deployment history)."""
    history = list(reversed(ws.serving.history(DEPLOYMENT, 1000)))
    last_apply = max((i for i, h in enumerate(history) if h.action == "apply"  # the latest canary's
                      and any(v["role"] == "canary" for v in h.details.get("variants", []))), default=0)
    decisions = [h for h in history[last_apply + 1:] if h.action.startswith(("canary.", "promote", "rollback"))]
    if not decisions:
        raise NotFound(f"deployment {DEPLOYMENT} has no canary decision yet; see: slipway deploy history {DEPLOYMENT}")
    for entry in decisions:
        reason = entry.details.get("reason") or ", ".join(f"{k}: {v}" for k, v in entry.details.items())
        reporter.info(f"revision {entry.revision} {entry.action}: {reason}" + (f" ({note})" if note else ""))
    final = next(h for h in reversed(decisions) if h.action in ("promote", "rollback"))
    verdict = "promoted" if final.action == "promote" else "rolled back"
    (reporter.ok if verdict == "promoted" else reporter.refused)(f"the controller {verdict} the canary")
    return verdict
