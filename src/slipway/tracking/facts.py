"""What other domains read about runs, inside their own transaction.

The registry registers a version from a run, the data domain names who used a dataset version,
lineage checks that a run exists: they call these functions instead of reading the tracking
tables themselves (import-linter forbids another domain to import ``store.schema.tracking``).
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Connection, or_, select

from slipway.store.schema.tracking import experiments, latest_metrics, params, run_artifacts, run_inputs, runs


def run_exists(conn: Connection, run_id: str) -> bool:
    return conn.execute(select(runs.c.id).where(runs.c.id == run_id).limit(1)).first() is not None


def run_artifact(conn: Connection, run_id: str, path: str) -> Any | None:
    """The artifact row (``kind``, ``digest``, …) of ``run_id`` at ``path``, or None."""
    return conn.execute(select(run_artifacts).where(run_artifacts.c.run_id == run_id,
                                                    run_artifacts.c.path == path)).first()


def artifact_paths(conn: Connection, run_id: str) -> list[str]:
    return [r.path for r in conn.execute(select(run_artifacts.c.path).where(run_artifacts.c.run_id == run_id))]


def run_snapshot(conn: Connection, run_id: str) -> tuple[dict[str, float], dict[str, str], list[dict[str, Any]]]:
    """The run's latest metrics, its params, and the dataset versions it read."""
    metrics = {
        key: (math.nan if is_nan else value)
        for key, value, is_nan in conn.execute(select(latest_metrics.c.key, latest_metrics.c.value, latest_metrics.c.is_nan)
                                               .where(latest_metrics.c.run_id == run_id).order_by(latest_metrics.c.key))
    }
    run_params = {key: value for key, value in conn.execute(
        select(params.c.key, params.c.value).where(params.c.run_id == run_id).order_by(params.c.key))}
    datasets = [
        {"dataset": r.dataset, "version": r.version, "digest": r.digest, "context": r.context}
        for r in conn.execute(select(run_inputs).where(run_inputs.c.run_id == run_id)
                              .order_by(run_inputs.c.created_ms, run_inputs.c.dataset))
    ]
    return metrics, run_params, datasets


def run_with_experiment(conn: Connection, run_id: str) -> Any | None:
    """The run's row with its experiment's name as ``experiment_name``, or None."""
    return conn.execute(select(runs, experiments.c.name.label("experiment_name"))
                        .join(experiments, experiments.c.id == runs.c.experiment_id)
                        .where(runs.c.id == run_id)).first()


def runs_reading(conn: Connection, dataset: str, version: int, digest: str) -> list[str]:
    """Ids of the runs that logged ``dataset`` (by version number or digest) as an input, oldest first."""
    rows = conn.execute(select(run_inputs.c.run_id).where(
        run_inputs.c.dataset == dataset, or_(run_inputs.c.version == version, run_inputs.c.digest == digest),
    ).order_by(run_inputs.c.created_ms))
    return list(dict.fromkeys(r.run_id for r in rows))
