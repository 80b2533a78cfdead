"""Production: each team's deployment (applied from Git) answers real requests over HTTP, its
monitor runs on what was served, and the fraud team's retrained model, signed off through its own
ServiceNow change, goes live as a canary that the controller promotes or rolls back."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from signoff import sign_off
from teams import Bank
from ticketing import ServiceNowServer
from training import train

import slipway
from slipway import Conflict, Workspace

FRAUD_FEATURES = ["tx_amount", "nb_tx_1d", "avg_amount_1d", "nb_tx_7d", "avg_amount_7d", "nb_tx_30d", "avg_amount_30d",
                  "terminal_nb_tx_1d", "terminal_risk_1d", "terminal_nb_tx_7d", "terminal_risk_7d",
                  "terminal_nb_tx_30d", "terminal_risk_30d"]
Say = Callable[[str], None]


def body(rows: pd.DataFrame) -> dict[str, Any]:
    """MLflow's ``dataframe_split`` body for ``/invocations``."""
    return {"dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}}


def requests_of(ws: Workspace, model: str, rows: int) -> pd.DataFrame:
    """The model inputs of the newest ``rows`` rows of the champion's training set (what the
    application would send today)."""
    from credit_eval import held_out

    champion = ws.registry.resolve(f"{model}@champion")
    if model == "credit":
        test, columns, _ = held_out(ws, champion, "reweigh")
        return test[columns].head(rows)
    training_set = str(ws.tracking.get_run(str(champion.run_id)).params["training_set"])
    frame = ws.data.load(training_set).to_pandas()
    return frame[FRAUD_FEATURES].astype("float64").tail(rows).reset_index(drop=True)


def send(ws: Workspace, url: str, deployment: str, rows: pd.DataFrame, batch: int = 50) -> dict[str, int]:
    """Send ``rows`` in batches and wait until the server has logged them; answers by version."""
    before = sum(s.rows for s in ws.serving.payload_segments(deployment))
    answered: collections.Counter[str] = collections.Counter()
    with httpx.Client(base_url=url, timeout=60) as client:
        for start in range(0, len(rows), batch):
            response = client.post("/invocations", json=body(rows.iloc[start:start + batch]))
            if response.status_code != 200:
                raise Conflict(f"{deployment} answered {response.status_code}: {response.text[:200]}")
            answered[response.headers.get("x-slipway-model-version", "?")] += min(batch, len(rows) - start)
    deadline = time.monotonic() + 120  # a safety net: the server flushes its payload log within seconds
    while sum(s.rows for s in ws.serving.payload_segments(deployment)) < before + len(rows):
        if time.monotonic() > deadline:
            raise Conflict(f"the inference server did not log the {len(rows)} requests to {deployment} in time")
        time.sleep(0.2)
    return dict(answered)


def serve_and_watch(bank: Bank, user: str, model: str, rows: int, say: Say) -> tuple[Any, dict[str, Any]]:
    """Serve ``MODEL-prod``, send it traffic, run its monitor; returns (the running server, a summary)."""
    deployment = f"{model}-prod"
    ws = bank[user]
    server = slipway.serve_in_background(bank.admin, deployment, timeout=600.0)  # a safety net on a busy machine
    answered = send(ws, server.url, deployment, requests_of(ws, model, rows))
    say(f"{deployment} on {server.url} answered {sum(answered.values())} requests: {answered}")
    run = ws.monitoring.run(f"{deployment}-watch")
    for check in run.result.get("checks") or []:
        say(f"monitor {deployment}-watch ({user}) on {run.result.get('rows')} served rows: {check['name']} "
            f"{'passed' if check.get('passed') else 'ALERT'}: {check.get('summary', '')}")
    if model == "fraud" and run.status == "alert":
        say("  (the reference is the whole training set, whose first month has the 30-day windows still filling "
            "up, while today's requests have them full: the windowed features drift by construction; a bank "
            "would take the reference from the latest month only)")
    return server, {"answered": answered, "monitor": run.status}


def fraud_canary(bank: Bank, snow: ServiceNowServer, repo: Path, server: Any, say: Say, timeout: float) -> dict[str, Any]:
    """The fraud team's retrained model: signed off through its own change, deployed as a canary of
    fraud-prod (at the spec's first step), judged by the controller under traffic."""
    fiona = bank["fiona"]
    candidate = train(bank, "fiona", f"{repo}/pipelines/fraud.py:train_fraud",
                      {"dataset": "transactions", "max_iter": 200, "learning_rate": 0.05})
    served = {f"{h.details.get('variants', [{}])[-1].get('model')}/{h.details.get('variants', [{}])[-1].get('version')}"
              for h in fiona.serving.history("fraud-prod", 1000) if h.action == "apply"}
    signed = sign_off(bank, snow, "fiona", candidate.ref, "retrained fraud model: deeper boosting", say)
    if candidate.ref in served:
        say(f"{candidate.ref} went through fraud-prod before: " + _verdict(fiona))
        return {"candidate": candidate.ref, "ticket": signed["ticket"], "verdict": _verdict(fiona)}
    spec = dict(fiona.serving.get("fraud-prod").spec)
    steps = list(spec["canary"]["steps"])
    variants = [dict(v, weight=100 - steps[0]) for v in spec["variants"] if v.get("role") == "stable"]
    spec["variants"] = [*variants, {"name": "canary", "model": candidate.ref, "weight": steps[0], "role": "canary"}]
    fiona.serving.apply(spec)
    say(f"fiona deployed {candidate.ref} to fraud-prod as a canary (steps {' -> '.join(map(str, steps))} %)")
    rows = requests_of(fiona, "fraud", 400)
    final, seen = _drive(fiona, server.url, rows, timeout)
    say(f"canary traffic: {dict(seen)}; fraud-prod is {final.status}: {_verdict(fiona)}")
    if final.status not in ("promoted", "rolled_back"):
        raise Conflict(f"the canary controller did not decide within {timeout:g} s (fraud-prod is {final.status})")
    return {"candidate": candidate.ref, "ticket": signed["ticket"], "verdict": final.status}


def _verdict(ws: Workspace) -> str:
    decisions = [h for h in ws.serving.history("fraud-prod", 1000) if h.action in ("promote", "rollback")]
    if not decisions:
        return "no decision yet"
    last = max(decisions, key=lambda h: h.revision)
    return f"{last.action} at revision {last.revision} ({last.details.get('reason', '')})"


def _drive(ws: Workspace, url: str, rows: pd.DataFrame, timeout: float, senders: int = 3) -> tuple[Any, Any]:
    """One-row requests from ``senders`` threads until the controller promotes or rolls back."""
    stop, lock = threading.Event(), threading.Lock()
    seen: collections.Counter[str] = collections.Counter()

    def loop(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            position = offset
            while not stop.is_set():
                try:
                    response = client.post("/invocations", json=body(rows.iloc[[position % len(rows)]]))
                    key = f"{response.headers.get('x-slipway-variant', '?')} {response.status_code}"
                except httpx.HTTPError as err:
                    key = f"transport error {type(err).__name__}"
                with lock:
                    seen[key] += 1
                position += senders

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(senders)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            now = ws.serving.get("fraud-prod")
            if now.status in ("promoted", "rolled_back") or time.monotonic() > deadline:
                return now, seen
            time.sleep(0.25)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


def go_live(bank: Bank, snow: ServiceNowServer, repo: Path, say: Say, canary_timeout: float,
            summary: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    fraud_server, result["fraud"] = serve_and_watch(bank, "fiona", "fraud", 300, say)
    try:
        credit_server, result["credit"] = serve_and_watch(bank, "carl", "credit", 200, say)
        credit_server.stop()
        result["canary"] = fraud_canary(bank, snow, repo, fraud_server, say, canary_timeout)
        summary["signoff"]["fraud-canary"] = {"ticket": result["canary"]["ticket"], "ref": result["canary"]["candidate"]}
    finally:
        fraud_server.stop()
    return result
