"""Applying specs: validation, the governance gate for production traffic, history and audit."""

from __future__ import annotations

import pytest

from slipway.core.errors import Conflict, InvalidInput, NotFound


def spec(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "maint", "variants": [{"name": "stable", "model": "torque@champion", "role": "stable", "weight": 100}],
    }
    base.update(changes)
    return base


BAD_SPECS = [
    (spec(variants=[]), InvalidInput, "non-empty 'variants'"),
    (spec(variants=[{"model": "torque/1", "role": "boss"}]), InvalidInput, "role 'boss'"),
    (spec(variants=[{"model": "torque/1", "weight": 150}]), InvalidInput, "weight must be a number from 0 to 100"),
    (spec(variants=[{"model": "torque/1", "role": "shadow"}]), InvalidInput, "at least one stable or canary"),
    (spec(canary={"steps": [50, 5, 100]}), InvalidInput, "increasing percentages"),
    (spec(slo={"p99": 3}), InvalidInput, "unknown key 'p99'"),
    (spec(slo={"ctr_min_ratio": "90%"}), InvalidInput, "slo.ctr_min_ratio must be a number"),
    (spec(slo={"ctr_min_ratio": 0.9, "ctr_min_feedback": 0}), InvalidInput, "slo.ctr_min_feedback must be a whole"),
    (spec(colour="blue"), InvalidInput, "unknown key 'colour'"),
    (spec(variants=[{"model": "torque/9"}]), NotFound, "no version 9"),
    (spec(variants=[{"model": "torque/1"}, {"name": "c", "model": "torque/4", "role": "canary", "weight": 5}]),
     Conflict, "'registered'; only approved or deployed"),
]


@pytest.mark.parametrize("bad,error,message", BAD_SPECS, ids=[b[2][:25] for b in BAD_SPECS])
def test_bad_spec_is_refused_and_changes_nothing(torque_ws, bad, error, message) -> None:
    ws = torque_ws
    before = len(ws.audit.log(subject="deployment", limit=1000))
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
        ws.serving.apply(bad)
    with pytest.raises(NotFound):
        ws.serving.get("maint")
    assert len(ws.audit.log(subject="deployment", limit=1000)) == before


def test_apply_pins_versions_records_history_lineage_and_audit(torque_ws) -> None:
    ws = torque_ws
    deployment = ws.serving.apply(spec(variants=[
        {"name": "stable", "model": "torque@champion", "role": "stable", "weight": 100},
        {"name": "canary", "model": "torque/2", "role": "canary"},
        {"name": "shadow", "model": "torque/4", "role": "shadow"},  # a registered-only version may shadow
    ]))
    weights = {v.name: (v.role, v.version, v.weight) for v in deployment.variants}
    assert weights == {"stable": ("stable", 1, 95.0), "canary": ("canary", 2, 5.0), "shadow": ("shadow", 4, 0.0)}
    assert deployment.status == "canary" and deployment.revision == 1
    again = ws.serving.apply(spec())
    assert again.revision == 2 and again.status == "stable" and [v.name for v in again.variants] == ["stable"]
    history = ws.serving.history("maint")
    assert [h.action for h in history] == ["apply", "apply"]
    assert ws.audit.verify().ok
    assert [e.action for e in ws.audit.log(subject="deployment:maint")] == ["deployment.apply"] * 2
    yaml_text = "name: other\nvariants:\n  - {model: torque/1, weight: 100}\n"
    assert ws.serving.apply(yaml_text).variants[0].version == 1
