"""MLflow experiments (``/experiments/...``) over Slipway's experiments.

An experiment's description is MLflow's ``mlflow.note.content`` tag and its project the tag
``slipway.project`` (given at creation, see :meth:`MlflowCall.project_for_new`); every other tag is
an experiment tag (``TrackingAdmin.set_experiment_tag``, audited). Searches list only the
experiments the caller may read, filter by name and tags, and page over those.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from slipway.core.auth import authorised
from slipway.core.errors import NotFound, PermissionDenied
from slipway.core.names import check_key, check_value
from slipway.server.mlflow.convert import ensure_default, experiment_json, resolve_experiment
from slipway.server.mlflow.protocol import PROJECT_TAG, MlflowCall, MlflowError, Routes
from slipway.tracking.admin import EXPERIMENT_TAG_VALUE
from slipway.tracking.backend import DEFAULT_EXPERIMENT
from slipway.tracking.records import Experiment

NOTE = "mlflow.note.content"
VIEW_TYPES = {"1": ("active",), "ACTIVE_ONLY": ("active",), "2": ("deleted",), "DELETED_ONLY": ("deleted",),
              "3": ("active", "deleted"), "ALL": ("active", "deleted")}


def _tags(call: MlflowCall) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in call.items("tags"):
        if not isinstance(tag, dict) or not isinstance(tag.get("key"), str):
            raise MlflowError(f"Invalid experiment tag {tag!r}: expected {{'key', 'value'}}"[:300])
        tags[tag["key"]] = str(tag.get("value", ""))
    for key, value in tags.items():  # checked before anything is written
        if key not in (NOTE, PROJECT_TAG):
            check_key(key, "experiment tag key")
            check_value(value, f"experiment tag {key}", EXPERIMENT_TAG_VALUE)
    return tags


def _with_tags(call: MlflowCall, experiments: list[Experiment]) -> list[dict[str, Any]]:
    tags = call.admin.experiment_tags([e.id for e in experiments]) if experiments else {}
    return [experiment_json(e, tags.get(e.id, {})) for e in experiments]


def create(call: MlflowCall) -> dict[str, Any]:
    name = call.text("name")
    call.items("tags")  # a malformed field is named first, as MLflow does
    if call.optional("artifact_location"):
        raise MlflowError("artifact_location is chosen by Slipway (its blob store); leave it unset")
    tags = _tags(call)
    project = call.project_for_new("tracking.write", tags.get(PROJECT_TAG))
    experiment = call.tracking.create_experiment(name, tags.get(NOTE, ""), project)
    for key, value in tags.items():
        if key not in (NOTE, PROJECT_TAG):
            call.admin.set_experiment_tag(experiment.id, key, value)
    return {"experiment_id": experiment_json(experiment)["experiment_id"]}


def get(call: MlflowCall) -> dict[str, Any]:
    return {"experiment": _with_tags(call, [resolve_experiment(call.tracking, call.text("experiment_id"))])[0]}


def get_by_name(call: MlflowCall) -> dict[str, Any]:
    name = call.text("experiment_name")
    experiment = call.tracking.get_experiment(name)
    if experiment.name != name:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return {"experiment": _with_tags(call, [experiment])[0]}


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
    clauses = _clauses(call.optional("filter"))
    listing = [e for e in listing if e.lifecycle in stages]
    tags = call.admin.experiment_tags([e.id for e in listing]) if listing and any(c[0] for c in clauses) else {}
    found = [e for e in listing if all(_holds(clause, e, tags.get(e.id, {})) for clause in clauses)]
    for key, descending in reversed(order):  # stable sorts, last key first
        found.sort(key=key, reverse=descending)
    page = found[offset: offset + max_results]
    result: dict[str, Any] = {"experiments": _with_tags(call, page)}
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


# One clause of an experiment filter: name (or attribute.name) or tags.KEY (tags.`KEY`), an
# operator, a quoted value; clauses are joined by AND, as in MLflow's experiment search.
_CLAUSE = re.compile(r"\s*(?:(?:(?:attributes?|attr)\.)?(name)|tags?\.(?:`([^`]+)`|([\w.\-/:]+)))\s+"
                     r"(=|!=|LIKE|ILIKE)\s+'((?:[^'\\]|\\.)*)'\s*(?:AND\b|$)", re.I)
Clause = tuple[str | None, str, str]  # (tag key or None for the name, operator, value)


def _clauses(text: str | None) -> list[Clause]:
    clauses: list[Clause] = []
    position, text = 0, (text or "").strip()
    while position < len(text):
        match = _CLAUSE.match(text, position)
        if match is None:
            raise MlflowError(f"Unsupported experiment filter {text!r}: Slipway filters experiments by name and "
                              "tags (name or tags.KEY with = / != / LIKE / ILIKE '...', joined by AND)")
        key = None if match.group(1) else (match.group(2) or match.group(3))
        clauses.append((key, match.group(4).upper(), match.group(5).replace("\\'", "'")))
        position = match.end()
    return clauses


def _holds(clause: Clause, experiment: Experiment, tags: dict[str, str]) -> bool:
    key, op, value = clause
    subject = experiment.name if key is None else tags.get(key)
    if subject is None:  # a tag the experiment does not have matches nothing, as in MLflow
        return False
    if op in ("=", "!="):
        return (subject == value) == (op == "=")
    pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value)
    return re.fullmatch(pattern, subject, re.I | re.S if op == "ILIKE" else re.S) is not None


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
    key, value = call.text("key"), call.text("value", "")
    if key == PROJECT_TAG:  # a no-op at most, but only for a caller who may change the experiment
        authorised(call.admin, "describe_experiment", ("tracking.write",), {"experiment_id": experiment.id})
        if value != experiment.project:
            raise MlflowError(f"experiment {experiment.name!r} belongs to project {experiment.project!r}; an "
                              f"experiment's project is set when it is created and cannot change")
    elif key == NOTE:
        call.admin.describe_experiment(experiment.id, value)
    else:
        call.admin.set_experiment_tag(experiment.id, key, value)
    return {}


def delete_tag(call: MlflowCall) -> dict[str, Any]:
    experiment = resolve_experiment(call.tracking, call.text("experiment_id"))
    key = call.text("key")
    if key in (NOTE, PROJECT_TAG):
        raise MlflowError(f"experiment tag {key!r} is the experiment's {'description' if key == NOTE else 'project'}: "
                          "set it instead (the project cannot change)")
    call.admin.delete_experiment_tag(experiment.id, key)
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
    ("POST", "/experiments/delete-experiment-tag", delete_tag),
]
