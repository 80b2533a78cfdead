"""Canary traffic share, automated rollback on a failing canary, automated promotion of a healthy one."""

from __future__ import annotations

import asyncio
import threading

import pytest

from slipway.core.errors import Conflict
from tests.deploy.traffic import send, until
from tests.serving.asgi import in_process, make_app


def canary_spec(canary: str, steps: list[int], min_requests: int, min_seconds: float, auto: bool = True) -> dict:
    return {
        "name": "maint",
        "variants": [{"name": "stable", "model": "torque@champion", "role": "stable", "weight": 95},
                     {"name": "canary", "model": canary, "role": "canary", "weight": steps[0]}],
        # Latency bounds far above anything a loaded test machine produces: these tests are about the
        # error-rate rule and the steps; a busy CPU must not roll a healthy canary back on latency.
        "slo": {"max_error_rate": 0.02, "max_latency_ms": 60_000, "latency_tolerance": 1000.0},
        "canary": {"steps": steps, "min_requests": min_requests, "min_seconds": min_seconds, "auto": auto,
                   "min_decision_requests": 20},
    }


def test_five_percent_canary_gets_five_percent_of_4000_requests(torque_ws, ai4i_rows) -> None:
    ws = torque_ws
    ws.serving.apply(canary_spec("torque/2", [5, 100], 10**6, 3600, auto=False))

    async def scenario() -> None:
        async with in_process(make_app(ws, deployment="maint")) as client:
            seen = await send(client, ai4i_rows, 4000, concurrency=100)
            assert sum(seen.values()) == 4000 and {status for _, status in seen} == {200}
            share = seen[("canary", 200)] / 4000
            assert 0.035 <= share <= 0.065, seen

    asyncio.run(scenario())


def test_canary_failing_20_percent_is_rolled_back_within_its_step(torque_ws, ai4i_rows) -> None:
    ws = torque_ws
    ws.governance.add_webhook("http://127.0.0.1:9/hook", ["deployment.rolled_back"])
    # 50% of traffic at the first step so the canary gathers evidence quickly; the step lasts 10 minutes.
    applied = ws.serving.apply(canary_spec("torque/3", [50, 100], 200, 600))

    async def scenario() -> None:
        async with in_process(make_app(ws, deployment="maint")) as client:
            seen = await until(lambda: ws.serving.get("maint").status == "rolled_back", client, ai4i_rows)
            assert seen[("canary", 500)] > 0
            await asyncio.sleep(0.5)  # a few reload periods: the server picks up the new revision
            after = await send(client, ai4i_rows, 200)
            assert set(after) == {("stable", 200)}

    asyncio.run(scenario())
    # Within its first step: rolled back straight from the apply, never stepped up (no wall clock).
    assert [h.action for h in reversed(ws.serving.history("maint"))] == ["apply", "rollback"]
    deployment = ws.serving.get("maint")
    assert [(v.name, v.weight) for v in deployment.variants] == [("stable", 100.0)]
    assert deployment.revision == applied.revision + 1
    rollback = ws.serving.history("maint")[0]
    assert rollback.action == "rollback" and rollback.details["automated"] is True
    numbers = rollback.details["numbers"]
    assert numbers["canary"]["errors"] > 0 and numbers["canary_error_rate_bounds"][0] > 0.02
    assert "Wilson lower bound" in rollback.details["reason"]
    assert ws.audit.log(subject="deployment:maint", action="deployment.rollback")
    deliveries = ws.governance.deliveries()
    assert any(d.event_type == "deployment.rolled_back" for d in deliveries)
    assert ws.registry.resolve("torque@champion").version == 1


def test_healthy_canary_is_promoted_through_every_step(torque_ws, ai4i_rows) -> None:
    ws = torque_ws
    ws.governance.add_webhook("http://127.0.0.1:9/hook", ["deployment.canary_step", "deployment.deployed"])
    ws.serving.apply(canary_spec("torque/2", [5, 25, 50, 100], 30, 0.3))

    async def scenario() -> None:
        async with in_process(make_app(ws, deployment="maint")) as client:
            seen = await until(lambda: ws.serving.get("maint").status == "promoted", client, ai4i_rows, timeout=60)
            assert all(status == 200 for _, status in seen)

    asyncio.run(scenario())
    actions = [h.action for h in reversed(ws.serving.history("maint"))]
    assert actions == ["apply", "canary.advance", "canary.advance", "canary.advance", "promote"]
    promotion = ws.serving.history("maint")[0]
    assert promotion.details["governance"] == "deployed" and promotion.details["alias"] == "champion -> torque/2"
    weights = [h.details["weights"]["canary"] for h in reversed(ws.serving.history("maint")) if h.action == "canary.advance"]
    assert weights == [25.0, 50.0, 100.0]
    deployment = ws.serving.get("maint")
    assert [(v.name, v.role, v.version, v.weight) for v in deployment.variants] == [("canary", "stable", 2, 100.0)]
    assert ws.registry.resolve("torque@champion").version == 2
    assert ws.governance.status("torque/2").state == "deployed"
    events = [d.event_type for d in ws.governance.deliveries()]
    assert events.count("deployment.canary_step") == 3 and "deployment.deployed" in events


def test_a_promotion_is_one_transaction_no_reader_sees_it_half_done(torque_ws) -> None:
    """History, alias and version state move together: whoever sees the promote entry sees the rest."""
    ws = torque_ws
    ws.serving.apply(canary_spec("torque/2", [5, 100], 10**6, 3600, auto=False))
    done = threading.Event()
    seen: list[tuple[bool, int, str]] = []

    def reader() -> None:
        while not done.is_set():
            promoted = any(h.action == "promote" for h in ws.serving.history("maint"))
            seen.append((promoted, ws.registry.resolve("torque@champion").version, ws.governance.status("torque/2").state))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        ws.serving.promote("maint", "looks good")
    finally:
        done.set()
        thread.join()
    seen.append((True, ws.registry.resolve("torque@champion").version, ws.governance.status("torque/2").state))
    assert all(version == 2 and state == "deployed" for promoted, version, state in seen if promoted), seen
    events = ws.audit.log(subject="deployment:maint")
    assert [e.action for e in events].count("deployment.promote") == 1
    assert not [e for e in events if e.action == "deployment.promote.registry"]


def test_a_promotion_the_policy_blocks_changes_nothing(torque_ws) -> None:
    ws = torque_ws
    ws.serving.apply(canary_spec("torque/2", [5, 100], 10**6, 3600, auto=False))
    ws.governance.set_policy("applies_to: [deployed]\nmetrics:\n  accuracy: {min: 2.0}\n", model="torque")
    with pytest.raises(Conflict, match="accuracy"):
        ws.serving.promote("maint")
    assert [h.action for h in ws.serving.history("maint")] == ["apply"]
    assert ws.registry.resolve("torque@champion").version == 1
    assert ws.governance.status("torque/2").state == "approved"
    assert sorted(v.role for v in ws.serving.get("maint").variants) == ["canary", "stable"]
