"""Shadow mirroring with a comparison, sticky A/B with per-variant outcomes, and reloads that drop
no in-flight request."""

from __future__ import annotations

import asyncio
import collections

from tests.deploy.traffic import send
from tests.serving.asgi import in_process, make_app


def test_shadow_gets_a_mirrored_copy_and_is_compared(torque_ws, ai4i_rows) -> None:
    ws = torque_ws
    ws.serving.apply({"name": "maint", "variants": [
        {"name": "stable", "model": "torque@champion", "weight": 100},
        {"name": "shadow", "model": "torque/4", "role": "shadow"}]})
    rows = ai4i_rows.head(400)

    async def scenario() -> None:
        async with in_process(make_app(ws, deployment="maint")) as client:
            seen = await send(client, rows, 400)
            assert seen == collections.Counter({("stable", 200): 400})  # callers only ever see the stable
            await asyncio.sleep(0.5)  # mirrored requests finish and counters are reported

    asyncio.run(scenario())
    status = ws.serving.status("maint")
    shadow = status.variants["shadow"]
    expected_agreement = float(((rows["Torque [Nm]"] > 50) == (rows["Torque [Nm]"] > 45)).mean())
    assert shadow["requests"] == 400 and shadow["compared_rows"] == 400
    assert abs(shadow["agreement_rate"] - expected_agreement) < 1e-9 and shadow["agreement_rate"] < 1.0
    assert abs(shadow["mean_abs_diff"] - (1 - expected_agreement)) < 1e-9
    assert status.variants["stable"]["requests"] == 400
    log = ws.serving.payload_log("maint")
    assert collections.Counter(log.column("variant").to_pylist()) == {"stable": 400, "shadow": 400}


def test_ab_split_is_sticky_and_outcomes_follow_feedback(torque_ws, ai4i_rows) -> None:
    ws = torque_ws
    ws.serving.apply({"name": "ab", "routing": {"sticky_key": "x-customer"}, "variants": [
        {"name": "a", "model": "torque/1", "weight": 50}, {"name": "b", "model": "torque/2", "weight": 50}]})
    rows = ai4i_rows.head(60)

    async def scenario() -> None:
        async with in_process(make_app(ws, deployment="ab")) as client:
            by_customer: dict[str, set[str]] = collections.defaultdict(set)
            ids: list[tuple[str, int]] = []
            for i in range(60):
                customer = f"c{i % 12}"
                record = rows.iloc[[i]].to_dict("records")
                response = await client.post("/invocations", json={"dataframe_records": record},
                                             headers={"x-customer": customer})
                assert response.status_code == 200
                by_customer[customer].add(response.headers["x-slipway-variant"])
                ids.append((response.headers["x-request-id"], int(rows["Torque [Nm]"].iloc[i] > 50)))
            assert all(len(variants) == 1 for variants in by_customer.values())  # sticky
            assert {v for vs in by_customer.values() for v in vs} == {"a", "b"}  # both get traffic
            feedback = [{"request_id": rid, "label": label if n % 3 else 1 - label} for n, (rid, label) in enumerate(ids)]
            response = await client.post("/v1/feedback", json={"feedback": feedback})
            assert response.json() == {"accepted": 60}
            bad = await client.post("/v1/feedback", json={"feedback": [{"request_id": "x"}]})
            assert bad.status_code == 400 and "has no label" in bad.json()["error"]

    asyncio.run(scenario())
    outcomes = ws.serving.outcomes("ab")
    assert set(outcomes) == {"a", "b"}
    assert sum(o["labelled_rows"] for o in outcomes.values()) == 60
    # A third of the labels were flipped, so each variant's accuracy sits near 2/3.
    assert all(0.4 < o["accuracy"] < 0.9 for o in outcomes.values())


def test_reapply_swaps_variants_without_dropping_requests(torque_ws, ai4i_rows) -> None:
    ws = torque_ws
    ws.serving.apply({"name": "maint", "variants": [{"name": "old", "model": "torque/1", "weight": 100}]})

    async def scenario() -> None:
        async with in_process(make_app(ws, deployment="maint")) as client:
            traffic = asyncio.create_task(send(client, ai4i_rows, 1500, concurrency=30))
            await asyncio.sleep(0.3)
            await asyncio.to_thread(ws.serving.apply, {"name": "maint", "variants": [
                {"name": "new", "model": "torque/2", "weight": 100}]})
            seen = await traffic
            assert {status for _, status in seen} == {200}, seen
            assert sum(seen.values()) == 1500
            assert seen[("old", 200)] > 0 and seen[("new", 200)] > 0  # swapped while requests were flowing
            await asyncio.sleep(0.4)
            after = await send(client, ai4i_rows, 50)
            assert set(after) == {("new", 200)}

    asyncio.run(scenario())
