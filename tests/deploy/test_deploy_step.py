"""The built-in ``deploy_model`` step: a new deployment takes the rest of its spec from a YAML file,
an existing one gets the version as a canary, and ``redeploy=False`` leaves a deployment alone for
a version it served before (so re-running a pipeline does not re-apply it)."""

from __future__ import annotations

from pathlib import Path

from slipway.pipelines import pipeline
from slipway.pipelines.steps import deploy_model


@pipeline
def ship(ref: str = "torque/1", spec: str = "", redeploy: bool = False) -> None:
    deploy_model(ref, "maint", canary_weight=10.0, spec=spec or None, redeploy=redeploy)


def test_deploy_step_uses_the_spec_file_then_canaries_and_never_redeploys_a_served_version(torque_ws, tmp_path: Path) -> None:
    ws = torque_ws
    spec = tmp_path / "deployment.yaml"
    spec.write_text("name: ignored\nvariants: [{model: torque/4}]\nslo: {max_error_rate: 0.02}\n"
                    "canary: {steps: [10, 50, 100], min_requests: 7}\n")
    assert ws.pipelines.run(ship, {"ref": "torque/1", "spec": str(spec)}).status == "SUCCEEDED"
    first = ws.serving.get("maint")
    assert [(v.role, v.version, v.weight) for v in first.variants] == [("stable", 1, 100.0)]
    assert first.spec["slo"]["max_error_rate"] == 0.02 and first.spec["canary"]["min_requests"] == 7

    assert ws.pipelines.run(ship, {"ref": "torque/2", "spec": str(spec)}).status == "SUCCEEDED"
    second = ws.serving.get("maint")
    assert second.revision == first.revision + 1
    assert sorted((v.role, v.version, v.weight) for v in second.variants) == [("canary", 2, 10.0), ("stable", 1, 90.0)]

    for ref in ("torque/2", "torque/1"):  # both served before: nothing is applied again
        assert ws.pipelines.run(ship, {"ref": ref, "spec": str(spec)}).status == "SUCCEEDED"
    assert ws.serving.get("maint").revision == second.revision
    assert ws.pipelines.run(ship, {"ref": "torque/2", "redeploy": True}).status == "SUCCEEDED"
    assert ws.serving.get("maint").revision == second.revision + 1
