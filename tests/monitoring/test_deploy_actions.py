"""A monitor's deployment actions on real deployments of the AI4I torque model: pausing a canary
holds its weight and stops the controller; rolling back drops a canary, or, once it was promoted,
re-deploys the version the promotion replaced and moves the champion alias back."""

from __future__ import annotations

import pytest

from slipway.core.errors import Conflict
from slipway.monitoring.deploy_actions import pause_canary, roll_back
from slipway.workspace import Workspace
from tests.deploy.conftest import ai4i_rows, torque_ws  # noqa: F401 - fixtures


def _spec(auto: bool) -> dict[str, object]:
    return {"name": "maint",
            "variants": [{"name": "stable", "model": "torque@champion", "role": "stable", "weight": 95},
                         {"name": "canary", "model": "torque/2", "role": "canary", "weight": 5}],
            "canary": {"steps": [5, 50, 100], "min_requests": 10**6, "min_seconds": 3600, "auto": auto,
                       "alias": "champion"}}


def _serving(ws: Workspace) -> list[tuple[str, str, int, float]]:
    return [(v.role, v.model, v.version, v.weight) for v in ws.serving.get("maint").variants]


def test_pausing_a_canary_holds_its_weight_and_stops_the_controller(torque_ws: Workspace) -> None:  # noqa: F811
    ws = torque_ws
    ws.serving.apply(_spec(auto=True))
    outcome = pause_canary(ws, "maint", "monitor m: alert a")
    assert outcome["paused"] == "torque/2" and outcome["weight"] == 5.0
    assert ws.serving.get("maint").spec["canary"]["auto"] is False
    assert sorted(_serving(ws)) == [("canary", "torque", 2, 5.0), ("stable", "torque", 1, 95.0)]
    assert ws.serving.canary_tick("maint")["action"] == "none"
    ws.serving.rollback("maint")
    with pytest.raises(Conflict, match="no canary to pause"):
        pause_canary(ws, "maint", "again")


def test_rolling_back_drops_a_canary_or_returns_to_the_previous_champion(torque_ws: Workspace) -> None:  # noqa: F811
    ws = torque_ws
    ws.serving.apply(_spec(auto=False))
    dropped = roll_back(ws, "maint", "monitor m: alert a")
    assert dropped["mode"] == "canary dropped" and dropped["to"] == ["torque/1"]
    assert _serving(ws) == [("stable", "torque", 1, 100.0)]

    ws.serving.apply(_spec(auto=False))
    ws.serving.promote("maint")
    assert ws.registry.resolve("torque@champion").version == 2 and _serving(ws) == [("stable", "torque", 2, 100.0)]
    back = roll_back(ws, "maint", "monitor m: alert b")
    assert back == {"mode": "previous champion", "from": ["torque/2"], "to": ["torque/1"],
                    "alias": "torque@champion -> torque/1"}
    assert _serving(ws) == [("stable", "torque", 1, 100.0)]
    assert ws.registry.resolve("torque@champion").version == 1
    assert ws.audit.log(action="deployment.apply", limit=1)[0].details["variants"][0]["version"] == 1
    with pytest.raises(Conflict, match="no canary and no earlier champion"):
        roll_back(ws, "maint", "nothing left")  # torque/1 serves: the latest promotion replaced it
