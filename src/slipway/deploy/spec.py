"""The deployment spec users write in YAML, checked and normalised before anything is stored.

```yaml
name: maint-prod
variants:
  - {name: stable, model: ai4i@champion, weight: 95, role: stable}
  - {name: canary, model: ai4i/2, weight: 5, role: canary}
  - {name: shadow, model: ai4i/3, role: shadow}
routing: {sticky_key: x-customer-id}
slo: {max_error_rate: 0.01, latency_quantile: 0.99, max_latency_ms: 250, max_prediction_drift: 0.2,
      ctr_min_ratio: 0.9, ctr_min_feedback: 200}
canary: {steps: [5, 25, 50, 100], min_requests: 200, min_seconds: 60, auto: true, alias: champion}
batching: {max_batch_rows: 256, max_wait_ms: 2}
features: {service: fraud, on_missing: reject}   # requests carry entity keys (slipway.serving.features)
```

``slo.ctr_min_ratio`` is a business SLO: the canary's click-through rate (positive feedback labels
per label posted to the inference server's ``/feedback``, per variant) must be at least that
fraction of the stable's; the controller judges it only once both variants have
``slo.ctr_min_feedback`` labels in the step, and does not step up before (see
:mod:`slipway.deploy.canary`).
"""

from __future__ import annotations

from typing import Any

from slipway.core.errors import InvalidInput
from slipway.core.names import check_name

ROLES = ("stable", "canary", "shadow")
_TOP_KEYS = {"name", "variants", "routing", "slo", "canary", "batching", "payload_log", "description",
             "features", "project"}
_SLO_KEYS = {"max_error_rate", "max_error_rate_increase", "latency_quantile", "max_latency_ms", "latency_tolerance",
             "max_prediction_drift", "confidence", "ctr_min_ratio", "ctr_min_feedback"}
_CANARY_KEYS = {"steps", "min_requests", "min_seconds", "min_decision_requests", "auto", "alias"}
DEFAULT_SLO = {"max_error_rate": 0.01, "max_error_rate_increase": 0.01, "latency_quantile": 0.99,
               "latency_tolerance": 0.5, "confidence": 0.95, "ctr_min_feedback": 200}
DEFAULT_CANARY = {"steps": [5, 25, 50, 100], "min_requests": 200, "min_seconds": 60.0, "min_decision_requests": 20,
                  "auto": True, "alias": "champion"}


def _number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidInput(f"{what} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _mapping(value: Any, what: str, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a mapping, got {value!r}")
    unknown = set(value) - allowed
    if unknown:
        raise InvalidInput(f"unknown key {sorted(unknown)[0]!r} in {what}; allowed: {sorted(allowed)}")
    return dict(value)


def parse_spec(raw: Any) -> dict[str, Any]:
    """The normalised spec, or InvalidInput naming the first problem."""
    spec = _mapping(raw, "the deployment spec", _TOP_KEYS)
    name = check_name(spec.get("name"), "deployment name")
    variants_in = spec.get("variants")
    if not isinstance(variants_in, list) or not variants_in:
        raise InvalidInput("a deployment needs a non-empty 'variants' list")
    variants, seen = [], set()
    for index, item in enumerate(variants_in):
        v = _mapping(item, f"variants[{index}]", {"name", "model", "weight", "role"})
        role = v.get("role", "stable")
        if role not in ROLES:
            raise InvalidInput(f"variants[{index}] role {role!r} must be one of {list(ROLES)}")
        vname = check_name(v.get("name", role), f"variants[{index}] name")
        if vname in seen:
            raise InvalidInput(f"variant name {vname!r} appears twice")
        seen.add(vname)
        model = v.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidInput(f"variants[{index}] needs a model reference (NAME@ALIAS or NAME/VERSION)")
        weight = 0.0 if role == "shadow" else _number(v.get("weight", 100 if role == "stable" else 0),
                                                      f"variant {vname!r} weight", 0, 100)
        variants.append({"name": vname, "model": model, "role": role, "weight": weight})
    production = [v for v in variants if v["role"] != "shadow"]
    if not production:
        raise InvalidInput("a deployment needs at least one stable or canary variant to answer requests")
    if sum(v["role"] == "canary" for v in variants) > 1:
        raise InvalidInput("a deployment may have at most one canary variant")
    if sum(v["weight"] for v in production) <= 0:
        raise InvalidInput("the production variants' weights add up to 0; give one a positive weight")
    has_canary = any(v["role"] == "canary" for v in production)
    total = sum(v["weight"] for v in production)
    if not has_canary and abs(total - 100.0) > 1e-6:
        shares = ", ".join(f"{v['name']}={v['weight']:g}" for v in production)
        raise InvalidInput(f"the variants' weights are percentages of traffic and must add up to 100, got {total:g} "
                           f"({shares})")
    slo = {**DEFAULT_SLO, **_mapping(spec.get("slo"), "slo", _SLO_KEYS)}
    for key in ("max_error_rate", "max_error_rate_increase", "max_prediction_drift", "latency_tolerance"):
        if slo.get(key) is not None:
            _number(slo[key], f"slo.{key}", 0, 1e9)
    _number(slo["latency_quantile"], "slo.latency_quantile", 0.5, 0.9999)
    _number(slo["confidence"], "slo.confidence", 0.5, 0.9999)
    if slo.get("ctr_min_ratio") is not None:
        _number(slo["ctr_min_ratio"], "slo.ctr_min_ratio", 0.01, 100)
    minimum = slo["ctr_min_feedback"]
    if isinstance(minimum, bool) or not isinstance(minimum, int) or not 1 <= minimum <= 10**9:
        raise InvalidInput(f"slo.ctr_min_feedback must be a whole number of feedback labels from 1 to 1000000000, "
                           f"got {minimum!r}")
    canary = {**DEFAULT_CANARY, **_mapping(spec.get("canary"), "canary", _CANARY_KEYS)}
    steps = canary["steps"]
    if not isinstance(steps, list) or not steps or any(
            isinstance(s, bool) or not isinstance(s, int | float) or not 0 < s <= 100 for s in steps) \
            or steps != sorted(steps) or steps[-1] != 100:
        raise InvalidInput(f"canary.steps must be increasing percentages ending at 100, got {steps!r}")
    declared = next((item.get("weight") for item in variants_in
                     if isinstance(item, dict) and item.get("role") == "canary"), None)
    if declared is not None and abs(float(declared) - float(steps[0])) > 1e-6:
        raise InvalidInput(f"the canary's weight {declared:g} is not its first step {steps[0]:g}: a canary starts at "
                           f"canary.steps[0] and the stables share the rest; set weight: {steps[0]:g} or canary.steps: "
                           f"[{declared:g}, ..., 100]")
    _number(canary["min_requests"], "canary.min_requests", 1, 1e9)
    _number(canary["min_seconds"], "canary.min_seconds", 0, 1e7)
    routing = _mapping(spec.get("routing"), "routing", {"sticky_key"})
    batching = _mapping(spec.get("batching"), "batching", {"max_batch_rows", "max_wait_ms"})
    payload = _mapping(spec.get("payload_log"), "payload_log", {"enabled", "segment_rows", "flush_seconds"})
    extra: dict[str, Any] = {}
    if spec.get("features") is not None:
        extra["features"] = _features(spec["features"])
    if spec.get("project") is not None:  # the owning project (default: the stable model's)
        extra["project"] = check_name(spec["project"], "project")
    return {**extra, "name": name, "description": str(spec.get("description", "")), "variants": variants, "slo": slo,
            "canary": canary, "routing": routing, "batching": batching, "payload_log": payload}


def _features(raw: Any) -> dict[str, str]:
    """``features: {service: NAME, on_missing: reject | null}`` (a bare name is the service)."""
    table = {"service": raw} if isinstance(raw, str) else _mapping(raw, "features", {"service", "on_missing"})
    service = check_name(table.get("service"), "features.service (a feature service name)")
    on_missing = table.get("on_missing", "reject")
    if on_missing is None:
        on_missing = "null"
    if on_missing not in ("reject", "null"):
        raise InvalidInput(f"features.on_missing must be 'reject' or 'null', got {on_missing!r}")
    return {"service": service, "on_missing": str(on_missing)}


def canary_weight_plan(spec: dict[str, Any], step_index: int) -> dict[str, float]:
    """Weights of the production variants at a canary step (the canary gets the step's percent)."""
    canary = next((v for v in spec["variants"] if v["role"] == "canary"), None)
    if canary is None:
        return {v["name"]: v["weight"] for v in spec["variants"] if v["role"] != "shadow"}
    share = float(spec["canary"]["steps"][step_index])
    stables = [v for v in spec["variants"] if v["role"] == "stable"]
    total = sum(v["weight"] for v in stables) or float(len(stables)) or 1.0
    weights = {v["name"]: (100.0 - share) * ((v["weight"] or 1.0) / total) for v in stables}
    weights[canary["name"]] = share
    return weights
