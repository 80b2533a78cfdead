"""The state changes of a deployment, each inside the caller's write transaction, each audited,
recorded in the history and (for promotions and rollbacks) announced to webhooks.

``now`` (milliseconds) is when the new step starts: the controller passes its clock's reading, so
a test with an injected clock steps through ``min_seconds`` without waiting."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection

from slipway.core.clock import now_ms
from slipway.core.errors import Conflict
from slipway.core.events import Action, Subject, WebhookEvent
from slipway.deploy.rows import add_history, bump, load_deployment, write_variants
from slipway.deploy.spec import canary_weight_plan
from slipway.store.context import ServiceContext
from slipway.store.schema.deploy import deployments
from slipway.webhooks.outbox import emit


def _variants_of(row: Any, conn: Connection) -> list[dict[str, Any]]:
    return [{"name": v.name, "role": v.role, "ref": v.ref, "model": v.model, "version": v.version, "weight": v.weight}
            for v in load_deployment(conn, row).variants]


def _canary(variants: list[dict[str, Any]], name: str) -> dict[str, Any]:
    canary = next((v for v in variants if v["role"] == "canary"), None)
    if canary is None:
        raise Conflict(f"deployment {name!r} has no canary variant to promote or roll back")
    return canary


def canary_variant(row: Any, conn: Connection) -> dict[str, Any]:
    """The deployment's canary variant; Conflict if it has none."""
    return _canary(_variants_of(row, conn), row.name)


def advance(ctx: ServiceContext, conn: Connection, row: Any, details: dict[str, Any], now: int | None = None) -> int:
    """Step the canary to its next weight; returns the new revision."""
    spec = orjson.loads(row.spec)
    step = int(row.canary_step) + 1
    weights = canary_weight_plan(spec, step)
    variants = _variants_of(row, conn)
    for v in variants:
        if v["name"] in weights:
            v["weight"] = weights[v["name"]]
    write_variants(conn, row.id, variants)
    revision = bump(conn, row, canary_step=step, step_started_ms=now_ms() if now is None else now)
    details = {**details, "weights": weights}
    add_history(conn, row.id, revision, "canary.advance", ctx.principal.name, details)
    ctx.audit(conn, Action.DEPLOYMENT_CANARY_ADVANCE, Subject.DEPLOYMENT, row.name, details)
    emit(conn, WebhookEvent.DEPLOYMENT_CANARY_STEP, {"deployment": row.name, "step": step, **details})
    return revision


def promote(ctx: ServiceContext, conn: Connection, row: Any, details: dict[str, Any],
            now: int | None = None) -> dict[str, Any]:
    """Make the canary the only stable variant at 100%; returns the promoted variant."""
    spec = orjson.loads(row.spec)
    variants = _variants_of(row, conn)
    canary = _canary(variants, row.name)
    kept = [{**canary, "role": "stable", "weight": 100.0}] + [v for v in variants if v["role"] == "shadow"]
    write_variants(conn, row.id, kept)
    spec["variants"] = [{"name": v["name"], "model": f"{v['model']}/{v['version']}", "role": v["role"],
                         "weight": v["weight"]} for v in kept]
    revision = bump(conn, row, status="promoted", spec=orjson.dumps(spec).decode(),
                    step_started_ms=now_ms() if now is None else now)
    details = {**details, "promoted": f"{canary['model']}/{canary['version']}",
               "replaced": [f"{v['model']}/{v['version']}" for v in variants if v["role"] == "stable"]}
    add_history(conn, row.id, revision, "promote", ctx.principal.name, details)
    ctx.audit(conn, Action.DEPLOYMENT_PROMOTE, Subject.DEPLOYMENT, row.name, details)
    emit(conn, WebhookEvent.DEPLOYMENT_DEPLOYED, {"deployment": row.name, "model": canary["model"],
                                       "version": canary["version"], **details})
    return canary


def rollback(ctx: ServiceContext, conn: Connection, row: Any, details: dict[str, Any],
             now: int | None = None) -> dict[str, Any]:
    """Send all production traffic back to the stable variants; returns the removed canary."""
    spec = orjson.loads(row.spec)
    variants = _variants_of(row, conn)
    canary = _canary(variants, row.name)
    stables = [v for v in variants if v["role"] == "stable"]
    if not stables:
        raise Conflict(f"deployment {row.name!r} has no stable variant to roll back to")
    original = {v["name"]: v["weight"] for v in spec["variants"]}
    total = sum(original.get(v["name"], 0.0) for v in stables) or float(len(stables))
    for v in stables:
        v["weight"] = 100.0 * (original.get(v["name"], 0.0) or total / len(stables)) / total
    kept = stables + [v for v in variants if v["role"] == "shadow"]
    write_variants(conn, row.id, kept)
    spec["variants"] = [v for v in spec["variants"] if v["name"] != canary["name"]]
    revision = bump(conn, row, status="rolled_back", spec=orjson.dumps(spec).decode(),
                    step_started_ms=now_ms() if now is None else now)
    details = {**details, "rolled_back": f"{canary['model']}/{canary['version']}"}
    add_history(conn, row.id, revision, "rollback", ctx.principal.name, details)
    ctx.audit(conn, Action.DEPLOYMENT_ROLLBACK, Subject.DEPLOYMENT, row.name, details)
    emit(conn, WebhookEvent.DEPLOYMENT_ROLLED_BACK, {"deployment": row.name, "model": canary["model"],
                                          "version": canary["version"], **details})
    return canary


def touch(conn: Connection, row: Any) -> None:
    conn.execute(deployments.update().where(deployments.c.id == row.id).values(updated_ms=now_ms()))
