"""MLflow 3's logged models (``/logged-models...``, ``/runs/outputs``), as ``mlflow.<flavor>.log_model`` uses them.

A logged model lives in its source run (one is started when the client names none): its files
are the run's artifacts under ``models/<model_id>/`` and its description (name, status, tags,
params) is the run tag ``mlflow.loggedModel.<model_id>``. Finalising it as READY makes that folder
a Slipway model bundle of flavor ``mlflow`` (artifact ``models/<model_id>``), which
``create_model_version`` can then register like any bundle.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import orjson

from slipway.core.clock import now_ms
from slipway.core.errors import NotFound
from slipway.models.flavors.mlflow import store_mlflow_bundle
from slipway.server.mlflow.artifacts import run_files
from slipway.server.mlflow.convert import (
    artifact_uri,
    experiment_id,
    readable_experiments,
    resolve_experiment,
)
from slipway.server.mlflow.protocol import MlflowCall, MlflowError, Routes
from slipway.server.mlflow.runs import key_values
from slipway.tracking.records import Run

TAG = "mlflow.loggedModel."
_ID = re.compile(r"^m-([0-9a-z]{32})-([0-9a-f]{8})$")
READY, PENDING = "LOGGED_MODEL_READY", "LOGGED_MODEL_PENDING"


def parse_id(model_id: str) -> str:
    """The source run id inside ``model_id``; RESOURCE_DOES_NOT_EXIST for anything else."""
    match = _ID.match(model_id)
    if match is None:
        raise NotFound(f"Logged model with ID '{model_id}' not found")
    return match.group(1)


def _load(call: MlflowCall, model_id: str) -> tuple[Run, dict[str, Any]]:
    run = call.tracking.get_run(parse_id(model_id))
    raw = run.tags.get(TAG + model_id)
    if raw is None:
        raise NotFound(f"Logged model with ID '{model_id}' not found")
    return run, orjson.loads(raw)


def _save(call: MlflowCall, run_id: str, model_id: str, meta: dict[str, Any]) -> None:
    meta["updated"] = now_ms()
    call.tracking.log_batch(run_id, tags={TAG + model_id: orjson.dumps(meta).decode()})


def model_json(call: MlflowCall, run: Run, model_id: str, meta: dict[str, Any]) -> dict[str, Any]:
    eid = experiment_id(call.tracking.get_experiment(run.experiment_id))
    info = {"model_id": model_id, "experiment_id": eid, "name": meta["name"], "status": meta["status"],
            "creation_timestamp_ms": meta["created"], "last_updated_timestamp_ms": meta["updated"],
            "artifact_uri": f"{artifact_uri(eid, run.id)}/models/{model_id}", "source_run_id": run.id,
            "model_type": meta.get("model_type") or "",
            "tags": [{"key": k, "value": v} for k, v in meta["tags"].items()]}
    return {"info": info, "data": {"params": [{"key": k, "value": v} for k, v in meta["params"].items()],
                                   "metrics": []}}


def create(call: MlflowCall) -> dict[str, Any]:
    tracking = call.tracking
    experiment = resolve_experiment(tracking, call.text("experiment_id", "0"), create_default=True)
    name = call.text("name", "model")
    run_id = call.optional("source_run_id") or tracking.create_run(experiment=experiment.id, name=name).id
    model_id = f"m-{run_id}-{secrets.token_hex(4)}"
    now = now_ms()
    meta = {"name": name, "status": PENDING, "model_type": call.optional("model_type"), "created": now,
            "tags": key_values(call, "tags"), "params": key_values(call, "params")}
    _save(call, run_id, model_id, meta)
    return {"model": model_json(call, tracking.get_run(run_id), model_id, meta)}


def get(call: MlflowCall) -> dict[str, Any]:
    run, meta = _load(call, call.text("model_id"))
    return {"model": model_json(call, run, call.text("model_id"), meta)}


def finalize(call: MlflowCall) -> dict[str, Any]:
    model_id, status = call.text("model_id"), call.text("status")
    run, meta = _load(call, model_id)
    if status == READY:
        _make_bundle(call, run, model_id)
    elif status != "LOGGED_MODEL_UPLOAD_FAILED":
        raise MlflowError(f"Invalid value {status!r} for parameter 'status'")
    meta["status"] = status
    _save(call, run.id, model_id, meta)
    return {"model": model_json(call, run, model_id, meta)}


def _make_bundle(call: MlflowCall, run: Run, model_id: str) -> None:
    prefix = f"models/{model_id}/"
    files = {p[len(prefix):]: f for p, f in run_files(call, run.id).items() if p.startswith(prefix)}
    if "MLmodel" not in files:
        raise MlflowError(f"logged model {model_id} has no MLmodel file; upload its files before finalising it")
    digest, size = store_mlflow_bundle(call.base.blobs, files)
    call.tracking.record_artifact(run.id, prefix.rstrip("/"), digest, "dir", size)


def set_tags(call: MlflowCall) -> dict[str, Any]:
    run, meta = _load(call, call.text("model_id"))
    meta["tags"].update(key_values(call, "tags"))
    _save(call, run.id, call.text("model_id"), meta)
    return {}


def delete_tag(call: MlflowCall) -> dict[str, Any]:
    run, meta = _load(call, call.text("model_id"))
    if meta["tags"].pop(call.text("tag_key"), None) is None:
        raise NotFound(f"logged model {call.text('model_id')} has no tag {call.text('tag_key')!r}")
    _save(call, run.id, call.text("model_id"), meta)
    return {}


def log_params(call: MlflowCall) -> dict[str, Any]:
    run, meta = _load(call, call.text("model_id"))
    meta["params"].update(key_values(call, "params"))
    _save(call, run.id, call.text("model_id"), meta)
    return {}


def log_outputs(call: MlflowCall) -> dict[str, Any]:
    tags = {}
    for item in call.items("models"):
        model_id = str(item.get("model_id")) if isinstance(item, dict) else ""
        _load(call, model_id)
        tags[f"mlflow.output.{model_id}"] = str(item.get("step", 0))
    if tags:
        call.tracking.log_batch(call.text("run_id"), tags=tags)
    return {}


def search(call: MlflowCall) -> dict[str, Any]:
    """Logged models of the named experiments the caller may read, optionally ``name = '...'``."""
    text = call.optional("filter") or ""
    match = re.fullmatch(r"\s*name\s*=\s*'([^']*)'\s*", text)
    if text and match is None:
        raise MlflowError(f"Unsupported logged model filter {text!r}: Slipway supports name = '...'")
    tracking, found = call.tracking, []
    named = [str(i) for i in call.items("experiment_ids")]
    experiments = [e.id for e in readable_experiments(tracking, named)]
    if named and not experiments:  # only other teams' experiments
        return {"models": []}
    token = None
    while True:
        page = tracking.search_runs("", experiments, None, 50_000, token)
        for run in page.runs:
            for key, raw in run.tags.items():
                meta = orjson.loads(raw) if key.startswith(TAG) else None
                if meta is not None and (match is None or meta["name"] == match.group(1)):
                    found.append(model_json(call, run, key[len(TAG):], meta))
        if not (token := page.next_token):
            break
    return {"models": found}


ROUTES: Routes = [
    ("POST", "/logged-models", create),
    ("GET", "/logged-models/{model_id}", get),
    ("PATCH", "/logged-models/{model_id}", finalize),
    ("PATCH", "/logged-models/{model_id}/tags", set_tags),
    ("DELETE", "/logged-models/{model_id}/tags/{tag_key}", delete_tag),
    ("POST", "/logged-models/{model_id}/params", log_params),
    ("POST", "/runs/outputs", log_outputs),
    ("POST", "/logged-models/search", search),
]
