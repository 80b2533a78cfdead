"""More of the UI tests' data, for the operations pages: a drift monitor whose alert names a
column carrying an XSS payload, a feature repository (one view materialised, a description
carrying a payload), a deployment with a shadow and labelled requests for A/B outcomes, a stored
schema with a validation verdict on a dataset version, and a fairness report on the credit model."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from slipway.workspace import open_workspace
from tests.features.conftest import DEFINITIONS, write_repo
from tests.governance.credit import LABEL, german
from tests.serving.asgi import in_process, make_app
from tests.serving.helpers import ai4i, register
from tests.serving.model_classes import TorqueThreshold
from tests.support import make_settings
from tests.ui.story import XSS_IMG, XSS_SCRIPT, Story

MONITOR = "sensor-drift"
DEPLOYMENT = "maint"
REQUESTS = 40


@dataclasses.dataclass
class Ops:
    alert_id: str
    labelled: int


def build_ops(story: Story, folder: Path) -> Ops:
    ws = open_workspace(make_settings(story.home))
    try:
        # A column named with a payload drifts: the alert's summary names it.
        rng = np.random.default_rng(7)
        reference = pd.DataFrame({XSS_IMG: rng.normal(0, 1, 2000), "speed": rng.normal(10, 1, 2000)})
        ws.data.add("sensor", reference)
        ws.data.add("sensor-live", reference.assign(**{XSS_IMG: reference[XSS_IMG] + 3}))
        ws.monitoring.apply({"name": MONITOR, "watch": "sensor-live", "reference": "sensor@1",
                             "checks": [{"name": "drift", "type": "drift", "max_share": 0.0}]})
        ws.monitoring.run(MONITOR)
        [alert] = ws.monitoring.alerts()

        # Dataset validation: a stored schema and the platform's verdict.
        ws.data.infer_schema("xss-columns@1")
        ws.governance.validate_data("xss-columns@1")

        # A fairness report on the credit model, on the held-out third.
        _, test = german()
        ws.governance.evaluate_fairness(f"{story.model}/{story.version}", test, label=LABEL, sensitive=["sex"],
                                        positive_label=1)
        # A policy with a metric floor: the evaluation shows each requirement of the last check.
        ws.governance.set_policy("metrics: {accuracy: {min: 0.5}}\n", model=story.model)
        ws.governance.check(f"{story.model}/{story.version}", "approved")

        # Features: one view materialised up to a fixed time, its description carrying a payload.
        repo = write_repo(folder / "features", DEFINITIONS.replace('owner="risk")',
                                                                   f'owner="risk", description={XSS_SCRIPT!r})'))
        ws.features.apply(repo)
        ws.features.materialize(end="2024-01-03T10:00:00")

        # A deployment with a shadow; its answers to labelled requests give the A/B outcomes.
        rows = ai4i(400)[0]
        for threshold in (50.0, 45.0):
            register(ws, TorqueThreshold(threshold), "torque", rows.head(10))
        _approve(story, ws, "torque/1")
        ws.serving.apply({"name": DEPLOYMENT, "description": XSS_IMG, "variants": [
            {"name": "stable", "model": "torque/1", "weight": 100},
            {"name": "shadow", "model": "torque/2", "role": "shadow"}]})
        # In a thread of its own: Playwright's sync API may already run an event loop in this one.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            labelled = pool.submit(lambda: asyncio.run(_traffic(ws, rows))).result()
    finally:
        ws.close()
    return Ops(alert.id, labelled)


def _approve(story: Story, ws: object, ref: str) -> None:
    request = ws.governance.request_approval(ref, "offline evaluation passed")  # type: ignore[attr-defined]
    bob = open_workspace(make_settings(story.home, user="bob"))
    try:
        bob.governance.approve(request.id, "looks good")
    finally:
        bob.close()


async def _traffic(ws: object, rows: pd.DataFrame) -> int:
    records = rows.head(REQUESTS).to_dict("records")
    async with in_process(make_app(ws, deployment=DEPLOYMENT)) as client:
        labels = []
        for index, record in enumerate(records):
            answer = await client.post("/invocations", json={"dataframe_records": [record]})
            assert answer.status_code == 200, answer.text
            truth = int(record["Torque [Nm]"] > 50)
            labels.append({"request_id": answer.headers["x-request-id"], "label": truth if index % 4 else 1 - truth})
        await asyncio.sleep(0.5)  # mirrored requests finish and counters are reported
        accepted = await client.post("/v1/feedback", json={"feedback": labels})
        assert accepted.json() == {"accepted": len(labels)}, accepted.text
    return len(labels)
