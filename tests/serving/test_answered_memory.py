"""The inference server keeps no memory per request served: thousands of requests through the real
app leave the serving package's allocations where they were, the feedback ring stays at its
capacity, and feedback is still counted for the variant that answered (issue 22's soak saw each
worker grow ~17 MB over its first 100,000 requests: the answered-request-id dict)."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from pathlib import Path

import orjson

from slipway.serving.answered import AnsweredRing
from slipway.serving.model import served_from_object
from slipway.serving.options import ServeOptions
from tests.serving.asgi import in_process, make_app
from tests.serving.model_classes import TorqueThreshold

SIGNATURE = {"inputs": [{"name": "Type", "type": "string"}, {"name": "Torque [Nm]", "type": "double"}]}
BODY = orjson.dumps({"dataframe_split": {"columns": ["Type", "Torque [Nm]"], "data": [["L", 55.0]]}})
A = ("d", "stable", "m", "1")
B = ("d", "canary", "m", "2")


def test_serving_thousands_of_requests_retains_nothing_per_request(home: Path) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(home))
    app = make_app(
        ws,
        ServeOptions(payload_log=False),
        models=[served_from_object("m", "1", TorqueThreshold(), SIGNATURE)],
    )
    serving = "slipway/serving/"
    measured = 2_000

    async def scenario() -> tuple[int, list[str]]:
        async with in_process(app) as client:

            async def send(count: int) -> list[str]:
                ids = []
                for start in range(0, count, 50):
                    answers = await asyncio.gather(
                        *(
                            client.post(
                                "/invocations", content=BODY, headers={"content-type": "application/json"}
                            )
                            for _ in range(min(50, count - start))
                        )
                    )
                    assert {a.status_code for a in answers} == {200}
                    ids += [a.headers["x-request-id"] for a in answers]
                return ids

            tracemalloc.start()
            try:
                await send(300)  # warm-up: first-call caches, metric children, the ring's label codes
                gc.collect()  # the client's answers (bodies included) sit in reference cycles until collected
                before = tracemalloc.take_snapshot()
                ids = await send(measured)
                gc.collect()
                after = tracemalloc.take_snapshot()
            finally:
                tracemalloc.stop()
            grown = sum(
                s.size_diff
                for s in after.compare_to(before, "filename")
                if serving in s.traceback[0].filename.replace("\\", "/")
            )
            feedback = [
                {"request_id": ids[-1], "label": 1},
                {"request_id": ids[0], "label": 0},
                {"request_id": "never-answered", "label": 1},
            ]
            assert (await client.post("/feedback", json={"feedback": feedback})).json() == {"accepted": 3}
            return grown, ids

    grown, ids = asyncio.run(scenario())
    # The answered-id dict kept ~150 bytes a request here (300 KB); now nothing grows per request.
    assert grown < 16 * measured // 2, f"the serving package kept {grown} bytes over {measured} requests"
    assert len(set(ids)) == measured
    handler = app.inference.__self__
    assert len(handler._answered) == 2_300 and handler._answered.capacity == 100_000
    registry = app.state.runtime.metrics.registry
    labels = {"deployment": "m", "variant": "default", "model": "m", "version": "1"}
    assert registry.get_sample_value("slipway_inference_feedback_total", {**labels, "label": "1"}) == 1.0
    assert registry.get_sample_value("slipway_inference_feedback_total", {**labels, "label": "0"}) == 1.0
    ws.close()


def test_the_ring_forgets_the_oldest_answers_and_finds_the_newest() -> None:
    ring = AnsweredRing(capacity=4)
    assert ring.find(["a"]) == [None] and len(ring) == 0
    ring.add("a", A)
    ring.add("b", B)
    ring.add("a", B)  # answered again: the newer answer counts
    assert ring.find(["a", "b", "c", ""]) == [B, B, None, None] and len(ring) == 3
    for request_id in ("c", "d", "e"):  # round the ring: the first "a" and "b" are overwritten
        ring.add(request_id, A)
    assert len(ring) == 4
    assert ring.find(["b", "a", "c", "d", "e", "e"]) == [None, B, A, A, A, A]
    for n in range(10_000):  # however many answers and labels, the slots stay the same
        ring.add(f"r{n}", (f"d{n % 300}", "v", "m", "1"))
    assert len(ring) == 4 and ring.find(["r9999", "r9996", "r9995"]) == [
        ("d99", "v", "m", "1"),
        ("d96", "v", "m", "1"),
        None,
    ]
