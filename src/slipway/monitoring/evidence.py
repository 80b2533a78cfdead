"""Monitoring's part of an evidence pack: the monitors watching some deployments, their runs and
alerts (governance names :func:`monitoring_evidence` by path: it sits below monitoring)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.store.schema.monitoring import alerts, monitor_runs, monitors

MAX_RUNS = 1000


def monitoring_evidence(conn: Connection, deployments: list[str]) -> list[dict[str, Any]]:
    """``[{monitor, watch, revision, spec, runs: [...], alerts: [...]}]`` for every monitor whose
    ``watch`` is one of ``deployments`` (``deployment:NAME``), runs newest first."""
    watched = {f"deployment:{d}" for d in deployments}
    found = []
    for row in conn.execute(select(monitors).order_by(monitors.c.name)):
        spec = orjson.loads(row.spec)
        if spec.get("watch") not in watched:
            continue
        runs = conn.execute(select(monitor_runs).where(monitor_runs.c.monitor_id == row.id)
                            .order_by(monitor_runs.c.created_ms.desc()).limit(MAX_RUNS)).all()
        raised = conn.execute(select(alerts).where(alerts.c.monitor_id == row.id).order_by(alerts.c.opened_ms)).all()
        found.append({
            "monitor": row.name, "watch": spec["watch"], "revision": row.revision, "spec": spec,
            "runs": [{"id": r.id, "revision": r.revision, "status": r.status, "at_ms": r.created_ms,
                      "by": r.created_by, "result": orjson.loads(r.result)} for r in runs],
            "alerts": [{"id": a.id, "check": a.check_name, "state": a.state, "summary": a.summary,
                        "occurrences": a.occurrences, "opened_ms": a.opened_ms, "updated_ms": a.updated_ms,
                        "updated_by": a.updated_by, "note": a.note} for a in raised],
        })
    return found
