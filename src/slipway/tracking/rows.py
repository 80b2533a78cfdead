"""Turning rows into tracking records, in as few queries as possible."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from slipway.store.schema.tracking import latest_metrics, params, run_tags, runs
from slipway.tracking.records import Experiment, Run


def row_to_experiment(row: Any) -> Experiment:
    return Experiment(row.id, row.name, row.description, row.lifecycle, row.created_ms)


def load_runs(conn: Connection, run_ids: Sequence[str]) -> list[Run]:
    """The runs of ``run_ids`` (in that order) with their params, latest metrics and tags."""
    if not run_ids:
        return []
    ids = list(run_ids)
    found: dict[str, Any] = {}
    extra: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: {"p": {}, "m": {}, "t": {}})
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for run_row in conn.execute(select(runs).where(runs.c.id.in_(chunk))):
            found[run_row.id] = run_row
        for run_id, key, value in conn.execute(select(params.c.run_id, params.c.key, params.c.value).where(params.c.run_id.in_(chunk))):
            extra[run_id]["p"][key] = value
        for run_id, key, value in conn.execute(select(run_tags.c.run_id, run_tags.c.key, run_tags.c.value).where(run_tags.c.run_id.in_(chunk))):
            extra[run_id]["t"][key] = value
        query = select(latest_metrics.c.run_id, latest_metrics.c.key, latest_metrics.c.value, latest_metrics.c.is_nan)
        for run_id, key, value, is_nan in conn.execute(query.where(latest_metrics.c.run_id.in_(chunk))):
            extra[run_id]["m"][key] = math.nan if is_nan else value
    result = []
    for run_id in ids:
        row = found.get(run_id)
        if row is None:
            continue
        bits = extra[run_id]
        result.append(Run(
            row.id, row.experiment_id, row.name, row.parent_id, row.status, row.start_ms, row.end_ms, row.lifecycle,
            row.user, row.git_commit, row.git_dirty, row.source, row.packages_digest,
            dict(sorted(bits["p"].items())), dict(sorted(bits["m"].items())), dict(sorted(bits["t"].items())),
        ))
    return result
