"""Users asking for recommendations: served top-10 checked against the model in-process, and a
canary driven by users who click the movies they like (clicks posted as feedback)."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import httpx
import pandas as pd

from slipway import IntegrityError, Workspace

UNKNOWN_USER = 10_000_000


def v2_body(users: list[int]) -> dict[str, Any]:
    return {"inputs": [{"name": "user_id", "datatype": "INT64", "shape": [len(users)], "data": users},
                       {"name": "exclude", "datatype": "BYTES", "shape": [len(users)], "data": [""] * len(users)}],
            "outputs": [{"name": "item_ids"}, {"name": "scores"}]}


def recommend(client: httpx.Client, user: int) -> tuple[str, str, list[int]]:
    """(variant, request id, top-10 item ids) for one user, routed stickily by ``x-user-id``."""
    response = client.post("/v2/models/recs/infer", json=v2_body([user]), headers={"x-user-id": str(user)})
    response.raise_for_status()
    items = response.json()["outputs"][0]["data"]
    return response.headers["x-slipway-variant"], response.headers["x-request-id"], items


def check_answers(ws: Workspace, url: str, model_ref: str, users: list[int]) -> dict[str, Any]:
    """Every user's served top-10 (and an unknown user's) equals what the registered model
    computes in-process; the unknown user gets the popularity ranking.

    Raises:
        IntegrityError: an answer differs (named).
    """
    model = ws.registry.load(model_ref).model
    with httpx.Client(base_url=url, timeout=30) as client:
        for user in [*users, UNKNOWN_USER]:
            _, _, served = recommend(client, user)
            expected, _ = model.recommend(user)
            if served != expected.tolist():
                raise IntegrityError(f"user {user}: served {served}, the model computes {expected.tolist()}")
        answer = client.post("/invocations", json={"dataframe_split": {"columns": ["user_id", "exclude"],
                                                                        "data": [[users[0], ""]]}})
        answer.raise_for_status()
        if answer.json()["predictions"][0] != model.recommend(users[0])[0].tolist():
            raise IntegrityError(f"/invocations answered user {users[0]} differently from the model")
    return {"users": len(users) + 1, "fallback": model.recommend(UNKNOWN_USER)[0].tolist()}


def liked(ratings: pd.DataFrame) -> dict[int, set[int]]:
    """The movies each user likes: those they rate 3.5 or more, before or after the drop.

    (Few MovieLens-small users rate anything after 2018, so clicks on only what users go on to
    rate would leave most users never clicking, and a 5 % canary of ~30 users judged on a handful
    of clickers; the held-out future is what the pipeline's evaluation judges.)"""
    good = ratings[ratings["rating"] >= 3.5]
    return {int(user): set(items) for user, items in good.groupby("userId")["movieId"].agg(set).items()}


def drive_canary(ws: Workspace, url: str, deployment: str, users: list[int], liked: dict[int, set[int]],
                 timeout: float, worse_canary: bool = False) -> tuple[Any, dict[str, list[int]]]:
    """``users`` ask for recommendations until the controller decides; a user clicks when a
    recommended item is one they like (``liked``), and every answer gets feedback (1: a click, 0:
    none), posted in batches. ``worse_canary``: users never click what the canary recommends.

    Returns:
        The deployment as the controller left it, and per variant [answers, clicks].
    """
    seen: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    stop, lock = threading.Event(), threading.Lock()

    def send(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            position, labels = offset, []
            while not stop.is_set():
                user = int(users[position % len(users)])
                try:
                    variant, request_id, items = recommend(client, user)
                    clicked = bool(set(items) & liked.get(user, set())) and not (worse_canary and variant == "canary")
                    labels.append({"request_id": request_id, "label": int(clicked)})
                    if len(labels) >= 100:
                        client.post("/feedback", json={"feedback": labels})
                        labels = []
                except httpx.HTTPError:
                    position += 2
                    continue
                with lock:
                    seen[variant][0] += 1
                    seen[variant][1] += int(clicked)
                position += 2

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            current = ws.serving.get(deployment)
            if current.status in ("promoted", "rolled_back") or time.monotonic() > deadline:
                return current, {k: list(v) for k, v in seen.items()}
            time.sleep(0.25)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


def click_through(seen: dict[str, list[int]]) -> dict[str, float]:
    return {variant: clicks / answers for variant, (answers, clicks) in seen.items() if answers}

