"""Click-through rate as a canary SLO, for real: a MovieLens recommender served on a loopback
socket by the real inference server (its own controller running), users who click what they
really rated highly, their clicks posted to ``/feedback``; the controller reads time from an
injected clock, so ``min_seconds: 3600`` steps pass without waiting. A canary recommending what
users like least is rolled back naming its click-through rate, with the numbers in the audit
ledger; the same model as the stable is promoted through every step."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from slipway.models.ranking import TopKRecommender
from slipway.workspace import Workspace, open_workspace, set_default
from tests.models.movielens import fitted, ratings
from tests.serving.asgi import make_app, on_socket
from tests.serving.helpers import approve, register
from tests.serving.recs import EXAMPLE
from tests.support import make_settings

USERS = 200  # the users the recommender was fitted on


def _least_liked() -> TopKRecommender:
    """The fitted factors with the user side negated: each user's top-10 is what suits them least."""
    good = fitted()
    return TopKRecommender.from_factors(good.user_ids, good.item_ids, -good.user_factors, good.item_factors,
                                        good.popularity, k=good.k)


@pytest.fixture
def recs(home: Path) -> Iterator[Workspace]:
    """``recs``: v1 the champion, v2 the same model (a healthy canary), v3 the least-liked items."""
    ws = open_workspace(make_settings(home))
    set_default(ws)
    for model in (fitted(), fitted(), _least_liked()):
        version = register(ws, model, "recs", EXAMPLE)
        approve(home, ws, f"recs/{version}")
    ws.registry.set_alias("recs", "champion", 1)
    yield ws
    ws.close()
    set_default(None)


def _spec(canary: str) -> dict[str, Any]:
    return {"name": "recs", "variants": [{"name": "stable", "model": "recs@champion", "role": "stable"},
                                         {"name": "canary", "model": canary, "role": "canary"}],
            # Latency bounds no loaded machine reaches: this test is about the business SLO.
            "slo": {"max_latency_ms": 60_000, "latency_tolerance": 1000.0, "ctr_min_ratio": 0.9,
                    "ctr_min_feedback": 150},
            "canary": {"steps": [25, 50, 100], "min_requests": 30, "min_seconds": 3600}}


def _drive(ws: Workspace, url: str, clock: list[int], timeout: float = 240.0) -> dict[str, list[int]]:
    """Users 1..200 ask for their top-10 and click (label 1) when it holds a movie they rated 4 or
    more, until the controller decides; each round the injected clock moves an hour on.

    Returns per variant [answers, clicks]."""
    frame = ratings()
    liked = frame[(frame["rating"] >= 4.0) & (frame["userId"] <= USERS)].groupby("userId")["movieId"].agg(set)
    seen: dict[str, list[int]] = {}
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=30) as client:
        while ws.serving.get("recs").status not in ("promoted", "rolled_back"):
            assert time.monotonic() < deadline, f"no decision in {timeout} s; traffic so far {seen}"
            labels = []
            for user in range(1, USERS + 1):
                body = {"inputs": [{"name": "user_id", "datatype": "INT64", "shape": [1], "data": [user]},
                                   {"name": "exclude", "datatype": "BYTES", "shape": [1], "data": [""]}]}
                answer = client.post("/v2/models/recs/infer", json=body)
                assert answer.status_code == 200, answer.text
                clicked = bool(set(answer.json()["outputs"][0]["data"]) & liked.get(user, set()))
                labels.append({"request_id": answer.headers["x-request-id"], "label": int(clicked)})
                counts = seen.setdefault(answer.headers["x-slipway-variant"], [0, 0])
                counts[0] += 1
                counts[1] += int(clicked)
            assert client.post("/feedback", json={"feedback": labels}).json() == {"accepted": len(labels)}
            clock[0] += 3_600_000
            time.sleep(0.3)  # a few stats and controller periods
    return seen


def _run(ws: Workspace, canary: str) -> tuple[dict[str, list[int]], list[int]]:
    clock = [1_900_000_000_000]
    ws.serving._backend.clock = lambda: clock[0]  # the controller's injected clock
    ws.serving.apply(_spec(canary))
    with on_socket(make_app(ws, deployment="recs")) as url:
        return _drive(ws, url, clock), clock


def test_a_canary_users_click_less_is_rolled_back_naming_click_through(recs: Workspace) -> None:
    seen, _ = _run(recs, "recs/3")
    assert seen["canary"][1] / seen["canary"][0] < 0.9 * seen["stable"][1] / seen["stable"][0], seen
    rollback = recs.serving.history("recs")[0]
    assert rollback.action == "rollback" and rollback.details["automated"] is True
    assert "click-through rate" in rollback.details["reason"], rollback.details
    ctr = rollback.details["numbers"]["ctr"]
    assert ctr["canary_feedback"] >= 150 and ctr["stable_feedback"] >= 150
    assert ctr["canary"] < 0.9 * ctr["stable"] and ctr["p_value"] < 0.05 and ctr["min_ratio"] == 0.9
    audited = recs.audit.log(subject="deployment:recs", action="deployment.rollback")
    assert audited and audited[0].details["numbers"]["ctr"] == ctr
    assert recs.registry.resolve("recs@champion").version == 1
    assert [h.action for h in reversed(recs.serving.history("recs"))] == ["apply", "rollback"]


def test_a_canary_users_click_as_much_is_promoted_through_every_step(recs: Workspace) -> None:
    seen, clock = _run(recs, "recs/2")
    history = list(reversed(recs.serving.history("recs")))
    assert [h.action for h in history] == ["apply", "canary.advance", "canary.advance", "promote"], history
    for advance in history[1:3]:
        ctr = advance.details["numbers"]["ctr"]
        assert ctr["canary_feedback"] >= 150 and ctr["stable_feedback"] >= 150 and ctr["p_value"] >= 0.05
    # Judged on clicks at 25 % and 50 %; at 100 % the stable has no traffic to compare with.
    assert "ctr" not in history[3].details["numbers"]
    assert recs.registry.resolve("recs@champion").version == 2
    assert recs.audit.log(subject="deployment:recs", action="deployment.canary.advance")
    # The steps lasted an hour each on the injected clock, not on the wall clock.
    assert history[1].details["numbers"]["step_elapsed_s"] >= 3600
    assert seen["canary"][0] > 0 and clock[0] > 1_900_000_000_000
