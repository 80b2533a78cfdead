"""``deploy_model``: put a registered version behind a deployment, as a canary when one exists."""

from __future__ import annotations

from typing import Any

from slipway.core.errors import InvalidInput, NotFound
from slipway.pipelines.context import StepContext
from slipway.pipelines.dsl import step


@step(local=True, cache=False)
def deploy_model(model_version: Any, deployment: str, canary_weight: float = 5.0,
                 context: StepContext = None) -> Any:  # type: ignore[assignment]
    """Deploy ``model_version`` (``ModelVersion`` or ``name/3``) to ``deployment``.

    A new deployment serves it as its stable variant; an existing one gets it as its canary at
    ``canary_weight`` percent (the canary controller takes it from there). Never cached: a deploy
    is an action on the world, not a value. The platform records ``pipeline_run --deployed--> deployment``.
    """
    if not 0 < canary_weight <= 100:
        raise InvalidInput(f"canary_weight must be in (0, 100], got {canary_weight!r}")
    ref = model_version.ref if hasattr(model_version, "ref") else str(model_version)
    serving = context.workspace.serving
    try:
        current = serving.get(deployment)
    except NotFound:
        current = None
    if current is None:
        spec: dict[str, Any] = {"name": deployment, "variants": [{"name": "stable", "model": ref, "weight": 100,
                                                                   "role": "stable"}]}
    else:
        spec = dict(current.spec)
        variants = [dict(v) for v in spec.get("variants", []) if v.get("role") != "canary"]
        stable_weight = 100 - canary_weight
        for variant in variants:
            if variant.get("role") == "stable":
                variant["weight"] = stable_weight
        variants.append({"name": "canary", "model": ref, "weight": canary_weight, "role": "canary"})
        spec["variants"] = variants
    result = serving.apply(spec)
    print(f"deployed {ref} to {deployment} ({'canary' if current else 'stable'})")
    return result
