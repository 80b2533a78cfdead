"""MLflow experiments (``/experiments/...``) over Slipway's experiments.

An experiment's description is MLflow's ``mlflow.note.content`` tag and its project the tag
``slipway.project`` (given at creation, see :meth:`MlflowCall.project_for_new`); other experiment
tags have no place in Slipway's store and are refused with INVALID_PARAMETER_VALUE. Searches list
only the experiments the caller may read, and page over those.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from slipway.core.auth import authorised
from slipway.core.errors import NotFound, PermissionDenied
from slipway.server.mlflow.convert import ensure_default, experiment_json, resolve_experiment
from slipway.server.mlflow.protocol import PROJECT_TAG, MlflowCall, MlflowError, Routes
from slipway.tracking.backend import DEFAULT_EXPERIMENT
from slipway.tracking.records import Experiment

NOTE = "mlflow.note.content"
VIEW_TYPES = {"1": ("active",), "ACTIVE_ONLY": ("active",), "2": ("deleted",), "DELETED_ONLY": ("deleted",),
              "3": ("active", "deleted"), "ALL": ("active", "deleted")}
_NAME_FILTER = re.compile(r"^\s*(?:(?:attributes?|attr)\.)?name\s+(=|!=|LIKE|ILIKE)\s+'((?:[^'\\]|\\.)*)'\s*$", re.I)


def _tags(call: MlflowCall) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in call.items("tags"):
        if not isinstance(tag, dict) or not isinstance(tag.get("key"), str):
            raise MlflowError(f"Invalid experiment tag {tag!r}: expected {{'key', 'value'}}"[:300])
        if tag["key"] not in (NOTE, PROJECT_TAG):
            raise MlflowError(f"experiment tag {tag['key']!r} is not supported by Slipway; only {NOTE!r} (the description) "
                              f"and {PROJECT_TAG!r} (its project, when it is created)")
        tags[tag["key"]] = str(tag.get("value", ""))
    return tags


def create(call: MlflowCall) -> dict[str, Any]:
    name = call.text("name")
    call.items("tags")  # a malformed field is named first, as MLflow does
    if call.optional("artifact_location"):
        raise MlflowError("artifact_location is chosen by Slipway (its blob store); leave it unset")
    tags = _tags(call)
    project = call.project_for_new("tracking.write", tags.get(PROJECT_TAG))
    experiment = call.tracking.create_experiment(name, tags.get(NOTE, ""), project)
    return {"experiment_id": experiment_json(experiment)["experiment_id"]}


def get(call: MlflowCall) -> dict[str, Any]:
    return {"experiment": experiment_json(resolve_experiment(call.tracking, call.text("experiment_id")))}


def get_by_name(call: MlflowCall) -> dict[str, Any]:
    name = call.text("experiment_name")
    experiment = call.tracking.get_experiment(name)
    if experiment.name != name:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return {"experiment": experiment_json(experiment)}


def search(call: MlflowCall) -> dict[str, Any]:
    stages = VIEW_TYPES.get(str(call.fields.get("view_type", "ACTIVE_ONLY")))
    if stages is None:
        raise MlflowError(f"Invalid view_type {call.fields.get('view_type')!r}")
    max_results = call.integer("max_results", 1000)
    if not 1 <= max_results <= 50_000:
        raise MlflowError(f"Invalid value {max_results} for parameter 'max_results': it must be 1 to 50000")
    offset = call.integer("page_token", 0) if call.fields.get("page_token") else 0
    order = _order(call)
    listing = call.tracking.list_experiments()
    if not any(e.name == DEFAULT_EXPERIMENT for e in listing):  # MLflow's server always lists "0"
        with contextlib.suppress(NotFound, PermissionDenied):
            ensure_default(call.tracking)
            listing = call.tracking.list_experiments()
    found = [e for e in listing if e.lifecycle in stages and _matches(call, e)]
    for key, descending in reversed(order):  # stable sorts, last key first
        found.sort(key=key, reverse=descending)
    page = found[offset: offset + max_results]
    result: dict[str, Any] = {"experiments": [experiment_json(e) for e in page]}
    if offset + max_results < len(found):
        result["next_page_token"] = str(offset + max_results)
    return result


_ORDER_KEYS: dict[str, Callable[[Experiment], Any]] = {
    "name": lambda e: e.name, "creation_time": lambda e: e.created_ms, "last_update_time": lambda e: e.created_ms,
    "experiment_id": lambda e: (len(experiment_json(e)["experiment_id"]), experiment_json(e)["experiment_id"]),
}
_ORDER = re.compile(r"^\s*(?:(?:attributes?|attr)\.)?(\w+)(?:\s+(ASC|DESC))?\s*$", re.I)


def _order(call: MlflowCall) -> list[tuple[Callable[[Experiment], Any], bool]]:
    """``order_by`` as MLflow's server reads it (name, creation_time, last_update_time,
    experiment_id; ASC unless DESC), then its default: newest first, experiment id to break ties."""
    keys = []
    for clause in call.items("order_by"):
        match = _ORDER.match(clause) if isinstance(clause, str) else None
        if match is None or match.group(1).lower() not in _ORDER_KEYS:
            raise MlflowError(f"Invalid order_by clause {clause!r}: order experiments by name, creation_time, "
                              "last_update_time or experiment_id, ASC or DESC")
        keys.append((_ORDER_KEYS[match.group(1).lower()], (match.group(2) or "ASC").upper() == "DESC"))
    if not any(key is _ORDER_KEYS["creation_time"] for key, _ in keys):
        keys.append((_ORDER_KEYS["creation_time"], True))
    return [*keys, (_ORDER_KEYS["experiment_id"], False)]


def _matches(call: MlflowCall, experiment: Experiment) -> bool:
    text = call.optional("filter")
    if not text:
        return True
    match = _NAME_FILTER.match(text)
    if match is None:
        raise MlflowError(f"Unsupported experiment filter {text!r}: Slipway filters experiments by name "
                          "(name = / != / LIKE / ILIKE '...')")
    op, value = match.group(1).upper(), match.group(2).replace("\\'", "'")
    if op in ("=", "!="):
        return (experiment.name == value) == (op == "=")
    pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value)
    return re.fullmatch(pattern, experiment.name, re.I if op == "ILIKE" else 0) is not None


def update(call: MlflowCall) -> dict[str, Any]:
    experiment = resolve_experiment(call.tracking, call.text("experiment_id"))
    if call.optional("new_name"):
        call.admin.rename_experiment(experiment.id, call.text("new_name"))
    return {}


def delete(call: MlflowCall) -> dict[str, Any]:
    experiment = resolve_experiment(call.tracking, call.text("experiment_id"))
    call.admin.set_experiment_lifecycle(experiment.id, True)
    return {}


def restore(call: MlflowCall) -> dict[str, Any]:
    experiment = resolve_experiment(call.tracking, call.text("experiment_id"))
    call.admin.set_experiment_lifecycle(experiment.id, False)
    return {}


def set_tag(call: MlflowCall) -> dict[str, Any]:
    experiment = resolve_experiment(call.tracking, call.text("experiment_id"))
    call.fields["tags"] = [{"key": call.text("key"), "value": call.text("value", "")}]
    tags = _tags(call)
    if PROJECT_TAG in tags:  # a no-op at most, but only for a caller who may change the experiment
        authorised(call.admin, "describe_experiment", ("tracking.write",), {"experiment_id": experiment.id})
        if tags[PROJECT_TAG] != experiment.project:
            raise MlflowError(f"experiment {experiment.name!r} belongs to project {experiment.project!r}; an "
                              f"experiment's project is set when it is created and cannot change")
        return {}
    call.admin.describe_experiment(experiment.id, tags[NOTE])
    return {}


ROUTES: Routes = [
    ("POST", "/experiments/create", create),
    ("GET", "/experiments/get", get),
    ("GET", "/experiments/get-by-name", get_by_name),
    ("POST", "/experiments/search", search),
    ("GET", "/experiments/search", search),
    ("POST", "/experiments/update", update),
    ("POST", "/experiments/delete", delete),
    ("POST", "/experiments/restore", restore),
    ("POST", "/experiments/set-experiment-tag", set_tag),
]
