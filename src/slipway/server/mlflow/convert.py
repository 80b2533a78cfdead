"""Slipway tracking records in MLflow's JSON shapes (``mlflow/protos/service.proto``).

MLflow clients start runs in experiment ``"0"`` when none is set; that id names Slipway's
``Default`` experiment both ways. A run's artifacts live at ``mlflow-artifacts:/<exp>/<run>/artifacts``,
which the client resolves to this server's artifact proxy. An experiment's project shows as its
tag ``slipway.project``.
"""

from __future__ import annotations

from typing import Any

from slipway.core.errors import NotFound, PermissionDenied
from slipway.server.mlflow.protocol import PROJECT_TAG
from slipway.tracking.backend import DEFAULT_EXPERIMENT, TrackingBackend
from slipway.tracking.records import Experiment, Run

DEFAULT_ID = "0"
LIFECYCLE = {"active": "active", "deleted": "deleted"}


def experiment_id(experiment: Experiment) -> str:
    return DEFAULT_ID if experiment.name == DEFAULT_EXPERIMENT else experiment.id


def resolve_experiment(tracking: TrackingBackend, mlflow_id: str, create_default: bool = False) -> Experiment:
    """The Slipway experiment an MLflow experiment id names (``"0"`` is ``Default``).

    MLflow's server always has experiment ``"0"``; Slipway creates ``Default`` on first use, so
    naming ``"0"`` creates it (when the caller may write; ``create_default`` is kept for callers
    that say so explicitly, and is the same)."""
    if mlflow_id == DEFAULT_ID:
        return ensure_default(tracking)
    experiment = tracking.get_experiment(mlflow_id)
    if experiment.id != mlflow_id:  # get_experiment also matches names; an id must be an id
        raise NotFound(f"experiment {mlflow_id!r} does not exist")
    return experiment


def ensure_default(tracking: TrackingBackend) -> Experiment:
    """``Default``, created if there is none yet and the caller may create it (NotFound otherwise)."""
    try:
        return tracking.get_experiment(DEFAULT_EXPERIMENT)
    except NotFound:
        try:
            return tracking.get_or_create_experiment(DEFAULT_EXPERIMENT)
        except PermissionDenied:
            raise NotFound(f"experiment {DEFAULT_ID!r} ({DEFAULT_EXPERIMENT}) does not exist yet") from None


def readable_experiments(tracking: TrackingBackend, mlflow_ids: list[str]) -> list[Experiment]:
    """The experiments ``mlflow_ids`` name that the caller may read: a search leaves the others
    out (as a listing does), where a read naming one is refused."""
    found = []
    for mlflow_id in mlflow_ids:
        try:
            found.append(resolve_experiment(tracking, mlflow_id))
        except PermissionDenied:
            continue
    return found


def experiment_json(experiment: Experiment, tags_of: dict[str, str] | None = None) -> dict[str, Any]:
    """MLflow's shape of an experiment; ``tags_of`` its experiment tags (TrackingAdmin.experiment_tags)."""
    eid = experiment_id(experiment)
    tags = [{"key": "mlflow.note.content", "value": experiment.description}] if experiment.description else []
    tags.append({"key": PROJECT_TAG, "value": experiment.project})
    tags += [{"key": key, "value": value} for key, value in (tags_of or {}).items()]
    return {
        "experiment_id": eid, "name": experiment.name, "artifact_location": f"mlflow-artifacts:/{eid}",
        "lifecycle_stage": LIFECYCLE.get(experiment.lifecycle, experiment.lifecycle),
        "creation_time": experiment.created_ms, "last_update_time": experiment.created_ms, "tags": tags,
    }


def artifact_uri(mlflow_experiment_id: str, run_id: str) -> str:
    return f"mlflow-artifacts:/{mlflow_experiment_id}/{run_id}/artifacts"


def run_json(run: Run, mlflow_experiment_id: str) -> dict[str, Any]:
    """A run as MLflow's ``Run`` message. Metrics carry their latest value; step and timestamp
    of that value are not kept on the run record, so they are 0 and the run's start time."""
    info = {
        "run_id": run.id, "run_uuid": run.id, "run_name": run.name, "experiment_id": mlflow_experiment_id,
        "user_id": run.user, "status": run.status, "start_time": run.start_ms,
        "artifact_uri": artifact_uri(mlflow_experiment_id, run.id),
        "lifecycle_stage": LIFECYCLE.get(run.lifecycle, run.lifecycle),
    }
    if run.end_ms is not None:
        info["end_time"] = run.end_ms
    tags = {"mlflow.runName": run.name, **run.tags}
    if run.parent_id:
        tags.setdefault("mlflow.parentRunId", run.parent_id)
    data = {
        "metrics": [{"key": k, "value": number(v), "timestamp": run.start_ms, "step": 0} for k, v in run.metrics.items()],
        "params": [{"key": k, "value": v} for k, v in run.params.items()],
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
    }
    return {"info": info, "data": data, "inputs": {}}


def number(value: float) -> float | str:
    # JSON has no NaN or infinity; protobuf's JSON form spells them as strings.
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value
