"""A monitor's deployment actions: roll back, pause a canary (through ``ws.serving``, audited there).

Rolling back a deployment with a canary drops the canary (the controller's own rollback). A
deployment whose canary was already promoted goes back to the version its last promotion
replaced: re-applied as the only stable variant, and the deployment's canary alias (e.g.
``champion``) moved back to it, so the previous champion serves again.
"""

from __future__ import annotations

from typing import Any

from slipway.core.errors import Conflict


def _live_variants(deployment: Any) -> list[dict[str, Any]]:
    """The spec's variants as they serve now (pinned versions, current weights)."""
    return [{"name": v.name, "model": f"{v.model}/{v.version}", "role": v.role, "weight": v.weight}
            for v in deployment.variants]


def _previous_stable(ws: Any, name: str) -> str | None:
    """The version the deployment's latest promotion replaced (``model/version``)."""
    for entry in ws.serving.history(name, 1000):  # newest first
        if entry.action == "promote" and entry.details.get("replaced"):
            return str(entry.details["replaced"][0])
    return None


def roll_back(ws: Any, name: str, reason: str) -> dict[str, Any]:
    """Send the deployment back to its previous champion; returns what changed.

    Raises:
        Conflict: no canary and no earlier promotion to go back from.
    """
    deployment = ws.serving.get(name)
    serving = [f"{v.model}/{v.version}" for v in deployment.variants if v.role != "shadow"]
    if any(v.role == "canary" for v in deployment.variants):
        after = ws.serving.rollback(name, reason)
        return {"mode": "canary dropped", "from": serving,
                "to": [f"{v.model}/{v.version}" for v in after.variants if v.role != "shadow"]}
    previous = _previous_stable(ws, name)
    if previous is None or previous in serving:
        raise Conflict(f"deployment {name!r} has no canary and no earlier champion to roll back to")
    model, _, version = previous.rpartition("/")
    spec = dict(deployment.spec)
    spec["variants"] = ([{"name": "stable", "model": previous, "role": "stable", "weight": 100.0}]
                        + [v for v in _live_variants(deployment) if v["role"] == "shadow"])
    ws.serving.apply(spec)
    outcome: dict[str, Any] = {"mode": "previous champion", "from": serving, "to": [previous]}
    alias = spec.get("canary", {}).get("alias")
    if alias:
        ws.registry.set_alias(model, alias, int(version))
        outcome["alias"] = f"{model}@{alias} -> {previous}"
    return outcome


def pause_canary(ws: Any, name: str, reason: str) -> dict[str, Any]:
    """Hold the deployment's canary at its current weight: the controller stops stepping it.

    Raises:
        Conflict: the deployment has no canary.
    """
    deployment = ws.serving.get(name)
    canary = next((v for v in deployment.variants if v.role == "canary"), None)
    if canary is None:
        raise Conflict(f"deployment {name!r} has no canary to pause")
    spec = {**deployment.spec, "variants": _live_variants(deployment),
            "canary": {**deployment.spec.get("canary", {}), "auto": False}}
    ws.serving.apply(spec)
    return {"paused": f"{canary.model}/{canary.version}", "weight": canary.weight, "reason": reason}
