"""Reading and writing deployment rows (shared by the endpoints and the canary transitions)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput
from slipway.core.ids import new_id
from slipway.deploy.records import Deployment, HistoryEntry, Variant
from slipway.deploy.stats import VariantCounters
from slipway.store.queries import one_row
from slipway.store.schema.deploy import deployment_history, deployment_stats, deployment_variants, deployments


def deployment_row(conn: Connection, name: str, lock: bool = False) -> Any:
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"a deployment name must be a non-empty string, got {name!r}")
    return one_row(conn, select(deployments).where(deployments.c.name == name),
                   f"deployment {name!r} does not exist; create it with `slipway deploy apply`", lock=lock)


def load_deployment(conn: Connection, row: Any) -> Deployment:
    variants = [
        Variant(v.name, v.role, v.ref, v.model, int(v.version), float(v.weight))
        for v in conn.execute(select(deployment_variants).where(deployment_variants.c.deployment_id == row.id)
                              .order_by(deployment_variants.c.role, deployment_variants.c.name))
    ]
    return Deployment(row.name, int(row.revision), row.status, variants, orjson.loads(row.spec), int(row.canary_step),
                      int(row.step_started_ms), int(row.created_ms), int(row.updated_ms), row.project)


def write_variants(conn: Connection, deployment_id: str, variants: list[dict[str, Any]]) -> None:
    """Replace the deployment's variants (each: name, role, ref, model, version, weight)."""
    conn.execute(deployment_variants.delete().where(deployment_variants.c.deployment_id == deployment_id))
    if variants:
        conn.execute(deployment_variants.insert(), [
            {"deployment_id": deployment_id, "name": v["name"], "role": v["role"], "ref": v["ref"],
             "model": v["model"], "version": int(v["version"]), "weight": float(v["weight"])} for v in variants])


def bump(conn: Connection, row: Any, **values: Any) -> int:
    """Write ``values`` and a new revision (servers reload on a revision change); returns it."""
    revision = int(row.revision) + 1
    conn.execute(deployments.update().where(deployments.c.id == row.id)
                 .values(revision=revision, updated_ms=now_ms(), **values))
    return revision


def add_history(conn: Connection, deployment_id: str, revision: int, action: str, actor: str,
                details: dict[str, Any]) -> None:
    conn.execute(deployment_history.insert().values(
        id=new_id(), deployment_id=deployment_id, revision=revision, action=action, actor=actor,
        details=orjson.dumps(details, option=orjson.OPT_SERIALIZE_NUMPY).decode(), created_ms=now_ms()))


def history_entries(conn: Connection, deployment_id: str, limit: int) -> list[HistoryEntry]:
    rows = conn.execute(select(deployment_history).where(deployment_history.c.deployment_id == deployment_id)
                        .order_by(deployment_history.c.created_ms.desc(), deployment_history.c.id.desc())
                        .limit(limit))
    return [HistoryEntry(r.revision, r.action, r.actor, orjson.loads(r.details), r.created_ms) for r in rows]


def merged_counters(conn: Connection, deployment_id: str, revision: int) -> dict[str, VariantCounters]:
    """Every worker's counters for one revision, summed per variant."""
    merged: dict[str, VariantCounters] = {}
    rows = conn.execute(select(deployment_stats.c.variant, deployment_stats.c.counters).where(
        deployment_stats.c.deployment_id == deployment_id, deployment_stats.c.revision == revision))
    for variant, counters in rows:
        current = VariantCounters.from_dict(orjson.loads(counters))
        merged[variant] = merged[variant].merge(current) if variant in merged else current
    return merged


def deployment_exists(conn: Connection, name: str) -> bool:
    return conn.execute(select(deployments.c.name).where(deployments.c.name == name).limit(1)).first() is not None
