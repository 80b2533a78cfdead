"""MLflow runs (``/runs/create|get|update|delete|restore``) over Slipway's runs.

``run_name`` (or the ``mlflow.runName`` tag) is the Slipway run name and ``mlflow.parentRunId``
its parent; the client's other tags are stored as run tags.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from slipway.core.errors import Conflict, InvalidInput, NotFound
from slipway.server.mlflow.convert import experiment_id, resolve_experiment, run_json
from slipway.server.mlflow.protocol import MlflowCall, MlflowError, Routes, invalid
from slipway.tracking.backend import TrackingBackend
from slipway.tracking.records import RUN_STATUSES, Run

RUN_NAME, PARENT = "mlflow.runName", "mlflow.parentRunId"


def key_values(call: MlflowCall, name: str) -> dict[str, str]:
    """``[{"key", "value"}, ...]`` field ``name`` as a dict, refusing malformed entries."""
    out: dict[str, str] = {}
    for item in call.items(name):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
            raise invalid(name, call.items(name))
        value = item.get("value", "")
        out[item["key"]] = value if isinstance(value, str) else str(value)
    return out


def run_id(call: MlflowCall) -> str:
    return call.text("run_id", call.fields.get("run_uuid"))


@contextlib.contextmanager
def mlflow_run_errors(call: MlflowCall, rid: str) -> Iterator[None]:
    """MLflow's answers for a run that is missing (``404 Run with id=… not found``) or deleted
    (``400 The run … must be in the 'active' state``, INVALID_PARAMETER_VALUE as MLflow's server
    answers, where Slipway's own API says 409): clients and MLflow's tests match these words. The
    run is looked up only when a call failed, so a write that succeeds costs nothing more."""
    try:
        yield
    except (NotFound, Conflict):
        try:
            run = call.tracking.get_run(rid)
        except NotFound:
            raise NotFound(f"Run with id={rid} not found") from None
        if run.lifecycle == "deleted":
            raise MlflowError(f"The run {rid} must be in the 'active' state. Current state is deleted.") from None
        raise


def mlflow_run(tracking: TrackingBackend, run: Run) -> dict[str, Any]:
    return run_json(run, experiment_id(tracking.get_experiment(run.experiment_id)))


def create(call: MlflowCall) -> dict[str, Any]:
    tracking = call.tracking
    experiment = resolve_experiment(tracking, call.text("experiment_id", "0"), create_default=True)
    if experiment.lifecycle == "deleted":
        raise MlflowError(f"The experiment {experiment_id(experiment)} must be in the 'active' state")
    tags = key_values(call, "tags")
    name = call.optional("run_name") or tags.pop(RUN_NAME, None)
    tags.pop(RUN_NAME, None)
    run = tracking.create_run(experiment=experiment.id, name=name, parent_id=tags.pop(PARENT, None),
                              source=tags.get("mlflow.source.name"), git_commit=tags.get("mlflow.source.git.commit"),
                              tags=tags, start_ms=call.integer("start_time") if call.fields.get("start_time") else None)
    return {"run": run_json(run, experiment_id(experiment))}


def get(call: MlflowCall) -> dict[str, Any]:
    tracking, rid = call.tracking, run_id(call)
    with mlflow_run_errors(call, rid):
        return {"run": mlflow_run(tracking, tracking.get_run(rid))}


def update(call: MlflowCall) -> dict[str, Any]:
    tracking, rid = call.tracking, run_id(call)
    status, name = call.optional("status"), call.optional("run_name")
    if status is not None and status not in (*RUN_STATUSES, "SCHEDULED"):
        raise MlflowError(f"Invalid value {status!r} for parameter 'status'")
    if name is not None:
        call.admin.rename_run(rid, name)
    run = tracking.get_run(rid)
    if status in ("FINISHED", "FAILED", "KILLED") and run.status != status:
        run = tracking.end_run(rid, status)
    elif status in ("RUNNING", "SCHEDULED") and run.status != "RUNNING":
        raise InvalidInput(f"run {rid} has ended ({run.status}); Slipway does not reopen runs")
    return {"run_info": mlflow_run(tracking, run)["info"]}


def delete(call: MlflowCall) -> dict[str, Any]:
    call.tracking.delete_run(run_id(call))
    return {}


def restore(call: MlflowCall) -> dict[str, Any]:
    call.tracking.restore_run(run_id(call))
    return {}


ROUTES: Routes = [
    ("POST", "/runs/create", create),
    ("GET", "/runs/get", get),
    ("POST", "/runs/update", update),
    ("POST", "/runs/delete", delete),
    ("POST", "/runs/restore", restore),
]
