"""Canary controller replicas: exactly one holds the deployment's lease and steps the canary; a
stale leader is fenced out; killing the leader's process hands the canary to another replica with
no step lost or made twice (real processes over PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from slipway.core.errors import LeaseLost
from slipway.deploy.controller import CanaryController
from slipway.deploy.stats import VariantCounters
from slipway.store.database import Database
from slipway.store.schema.leases import leases
from slipway.workspace import Workspace, open_workspace, set_default
from tests.serving.helpers import approve, register
from tests.serving.model_classes import TorqueThreshold
from tests.support import make_settings

SPEC = {"name": "maint", "variants": [{"name": "stable", "model": "torque/1", "weight": 100},
                                      {"name": "canary", "model": "torque/2", "role": "canary"}],
        "canary": {"steps": [10, 50, 100], "min_requests": 5, "min_seconds": 0}}


def _feed(ws: Workspace) -> int:
    """Report healthy traffic for the deployment's current revision (what serving workers do)."""
    revision = ws.serving.get("maint").revision
    canary, stable = VariantCounters(), VariantCounters()
    for _ in range(10):
        canary.observe(5.0, False)
        stable.observe(5.0, False)
    ws.serving._backend.record_stats("maint", revision, "w1", {"canary": canary.to_dict(), "stable": stable.to_dict()})
    return revision


def _steps(ws: Workspace) -> list[tuple[str, dict[str, object]]]:
    return [(h.action, h.details["lease"]) for h in reversed(ws.serving.history("maint"))
            if h.action in ("canary.advance", "promote", "rollback")]


def test_only_the_lease_holder_steps_and_a_stale_leader_is_fenced_out(torque_ws: Workspace) -> None:
    ws = torque_ws
    ws.serving.apply(SPEC)
    now = [1_000]
    a = CanaryController(ws.serving, "maint", holder="a", lease_s=10.0, clock=lambda: now[0])
    b = CanaryController(ws.serving, "maint", holder="b", lease_s=10.0, clock=lambda: now[0])
    assert a.tick()["action"] == "wait"  # type: ignore[index]  # a leads; no traffic yet
    _feed(ws)
    assert b.tick() is None  # b stands by: it neither decides nor steps
    assert a.tick()["action"] == "advance"  # type: ignore[index]
    # a stalls; its lease expires and b takes over with the next fencing token.
    now[0] = 20_000
    revision = _feed(ws)
    assert b.tick()["action"] == "advance"  # type: ignore[index]
    # a wakes up and acts on its old token: refused in the deciding transaction, nothing changes.
    after_b = ws.serving.get("maint")
    with pytest.raises(LeaseLost, match="token 1 is no longer current"):
        ws.serving.canary_tick("maint", lease_token=1)
    assert ws.serving.get("maint").revision == after_b.revision == revision + 1
    assert a.tick() is None  # and its controller now stands by
    _feed(ws)
    assert b.tick()["action"] == "promote"  # type: ignore[index]
    assert _steps(ws) == [("canary.advance", {"holder": "a", "token": 1}),
                          ("canary.advance", {"holder": "b", "token": 2}),
                          ("promote", {"holder": "b", "token": 2})]
    assert ws.serving.get("maint").status == "promoted"
    assert ws.audit.verify().ok


CONTROLLER = """
import sys, threading
from slipway.core.settings import load_settings
from slipway.serving.server import controller_loop
from slipway.workspace import open_workspace
print("started", flush=True)
controller_loop(load_settings(), "maint", 0.2, open_workspace, float(sys.argv[1]))(threading.Event())
"""


def _wait_for(predicate, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the controllers")


@pytest.mark.postgres
@pytest.mark.slow
def test_killing_the_leading_controller_process_hands_over_without_losing_or_repeating_a_step(
        home: Path, pg_uri: str, ai4i_rows) -> None:  # type: ignore[no-untyped-def]
    ws = open_workspace(make_settings(home, store_uri=pg_uri))
    set_default(ws)
    db = Database(pg_uri)
    # the controllers act as the workspace's user, with its signing key (promoting moves the protected alias)
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_STORE_URI": pg_uri, "SLIPWAY_SERVER_URL": "",
           "SLIPWAY_TOKEN": "", "SLIPWAY_USER": ws.settings.user, "SLIPWAY_SIGNING_KEY": str(ws.settings.signing_key)}
    processes: list[subprocess.Popen[bytes]] = []

    def holder() -> str | None:
        with db.read() as conn:
            row = conn.execute(select(leases).where(leases.c.name == "canary:maint")).one_or_none()
        return None if row is None else str(row.holder)

    try:
        for _ in range(2):
            register(ws, TorqueThreshold(50.0), "torque", ai4i_rows.head(10))
        for version in (1, 2):
            approve(home, ws, f"torque/{version}", store_uri=pg_uri)
        first = ws.serving.apply(SPEC).revision
        processes = [subprocess.Popen([sys.executable, "-c", CONTROLLER, "3"], env=env, cwd=str(home),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
        _wait_for(lambda: holder() is not None)
        _feed(ws)
        _wait_for(lambda: ws.serving.get("maint").revision > first)  # the leader stepped once
        leader_pid = int(str(holder()).split(":")[1])
        leader = next(p for p in processes if p.pid == leader_pid)
        leader.send_signal(signal.SIGKILL)  # mid-canary: one step made, two to go
        leader.wait(timeout=30)
        _feed(ws)
        _wait_for(lambda: ws.serving.get("maint").revision > first + 1)
        survivor = next(p for p in processes if p is not leader)
        assert str(holder()).split(":")[1] == str(survivor.pid)
        _feed(ws)
        _wait_for(lambda: ws.serving.get("maint").status == "promoted")
        time.sleep(1.0)  # several more ticks of the survivor: nothing more happens
        steps = _steps(ws)
        assert [action for action, _ in steps] == ["canary.advance", "canary.advance", "promote"]
        (_, killed), (_, taken), (_, promoted) = steps
        assert str(killed["holder"]).split(":")[1] == str(leader_pid)
        assert taken == promoted and str(taken["holder"]).split(":")[1] == str(survivor.pid)
        assert int(taken["token"]) > int(killed["token"])  # type: ignore[call-overload]
        assert ws.serving.get("maint").revision == first + 3
        assert ws.audit.verify().ok
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
        db.dispose()
        ws.close()
        set_default(None)
