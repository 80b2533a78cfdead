"""``deploy_model``: put a registered version behind a deployment, as a canary when one exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from slipway.core.errors import InvalidInput, NotFound
from slipway.pipelines.context import StepContext
from slipway.pipelines.dsl import step


@step(local=True, cache=False)
def deploy_model(model_version: Any, deployment: str, canary_weight: float = 5.0, spec: Any = None,
                 redeploy: bool = True, context: StepContext = None) -> Any:  # type: ignore[assignment]
    """Deploy ``model_version`` (``ModelVersion`` or ``name/3``) to ``deployment``.

    A new deployment serves it as its stable variant; an existing one gets it as its canary at
    ``canary_weight`` percent (the canary controller takes it from there). Never cached: a deploy
    is an action on the world, not a value. The platform records ``pipeline_run --deployed--> deployment``.

    Args:
        spec: the rest of a new deployment's spec (SLOs, canary steps, ...): a mapping or the path
            of a deployment YAML; its ``name`` and ``variants`` are replaced. An existing
            deployment keeps its own spec.
        redeploy: when false, a version this deployment has served before (stable or canary,
            promoted or rolled back) is not deployed again; the step returns the deployment as
            it is. That makes a re-run of the pipeline leave the deployment alone.
    """
    if not 0 < canary_weight <= 100:
        raise InvalidInput(f"canary_weight must be in (0, 100], got {canary_weight!r}")
    ref = model_version.ref if hasattr(model_version, "ref") else str(model_version)
    serving = context.workspace.serving
    try:
        current = serving.get(deployment)
    except NotFound:
        current = None
    if current is not None and not redeploy and _served_before(serving, deployment, ref):
        print(f"{ref} was already deployed to {deployment}; nothing to do")
        return current
    if current is None:
        base = _base_spec(spec)
        base.update({"name": deployment, "variants": [{"name": "stable", "model": ref, "weight": 100,
                                                       "role": "stable"}]})
    else:
        base = dict(current.spec)
        variants = [dict(v) for v in base.get("variants", []) if v.get("role") != "canary"]
        stable_weight = 100 - canary_weight
        names = {v.get("name") for v in variants}
        for variant in variants:
            if variant.get("role") == "stable":
                variant["weight"] = stable_weight
                if variant.get("name") == "canary" and "stable" not in names:  # a promoted canary
                    variant["name"] = "stable"
        variants.append({"name": "canary", "model": ref, "weight": canary_weight, "role": "canary"})
        base["variants"] = variants
    result = serving.apply(base)
    print(f"deployed {ref} to {deployment} ({'canary' if current else 'stable'}, revision {result.revision})")
    return result


def _base_spec(spec: Any) -> dict[str, Any]:
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return dict(spec)
    if isinstance(spec, str | Path):
        try:
            loaded = yaml.safe_load(Path(spec).read_text())
        except (OSError, yaml.YAMLError) as err:
            raise InvalidInput(f"cannot read the deployment spec {spec}: {err}") from err
        if isinstance(loaded, dict):
            return loaded
    raise InvalidInput(f"spec must be a mapping or the path of a deployment YAML, got {spec!r}")


def _served_before(serving: Any, deployment: str, ref: str) -> bool:
    """Whether any applied revision of ``deployment`` had ``ref`` (``name/3``) as a variant."""
    name, _, number = ref.rpartition("/")
    return any((v.get("model"), str(v.get("version"))) == (name, number)
               for entry in serving.history(deployment, 10_000) if entry.action == "apply"
               for v in entry.details.get("variants", []))
