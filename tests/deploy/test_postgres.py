"""Deployments on PostgreSQL: the same apply, stats merge across workers, and a locked canary
decision (SELECT ... FOR UPDATE) that acts exactly once when two controllers tick together."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from slipway.deploy.stats import VariantCounters
from slipway.workspace import open_workspace, set_default
from tests.serving.helpers import approve, register
from tests.serving.model_classes import TorqueThreshold
from tests.support import make_settings


@pytest.mark.postgres
def test_two_controllers_roll_back_once_on_postgres(home: Path, pg_uri: str, ai4i_rows) -> None:
    ws = open_workspace(make_settings(home, store_uri=pg_uri))
    set_default(ws)
    try:
        for _ in range(2):
            register(ws, TorqueThreshold(50.0), "torque", ai4i_rows.head(10))
        for version in (1, 2):
            approve(home, ws, f"torque/{version}", store_uri=pg_uri)
        deployment = ws.serving.apply({
            "name": "maint", "variants": [{"name": "stable", "model": "torque/1", "weight": 95},
                                          {"name": "canary", "model": "torque/2", "role": "canary"}],
            "canary": {"steps": [10, 100], "min_requests": 50, "min_seconds": 600}})
        assert [v.weight for v in deployment.variants] == [10.0, 90.0]  # canary, stable (sorted by role)
        # Two server workers report: the canary failed 30 of 100 requests in total.
        for worker, (requests, errors) in {"w1": (60, 20), "w2": (40, 10)}.items():
            canary = VariantCounters()
            for i in range(requests):
                canary.observe(5.0, i < errors)
            stable = VariantCounters()
            for _ in range(500):
                stable.observe(4.0, False)
            ws.serving._backend.record_stats("maint", deployment.revision, worker,
                                             {"canary": canary.to_dict(), "stable": stable.to_dict()})
        status = ws.serving.status("maint")
        assert status.variants["canary"]["requests"] == 100 and status.variants["canary"]["errors"] == 30
        assert status.variants["stable"]["requests"] == 1000
        decisions: list[str] = []

        def controller() -> None:
            other = open_workspace(make_settings(home, store_uri=pg_uri))
            try:
                decisions.append(other.serving.canary_tick("maint")["action"])
            except Exception as err:  # the loser sees no canary left
                decisions.append(type(err).__name__)
            finally:
                other.close()

        threads = [threading.Thread(target=controller) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert decisions.count("rollback") == 1, decisions
        assert [h.action for h in ws.serving.history("maint")].count("rollback") == 1
        after = ws.serving.get("maint")
        assert after.status == "rolled_back" and [(v.name, v.weight) for v in after.variants] == [("stable", 100.0)]
        assert ws.audit.verify().ok
    finally:
        ws.close()
        set_default(None)
