"""MLflow's model registry (``/registered-models/...``, ``/model-versions/...``) over Slipway's registry.

A model version is registered from a Slipway model bundle that a run logged (``source`` is the
bundle's artifact location: ``runs:/<run>/<path>``, ``mlflow-artifacts:/<exp>/<run>/artifacts/<path>``
or just ``run_id`` plus a path). Aliases are Slipway aliases, so protected ones (champion,
production) keep Slipway's permissions and approval policy. What Slipway does not do is refused
with NOT_IMPLEMENTED (501) and a message saying why: deleting or renaming models and versions (the
registry is an audit record) and stage transitions (use aliases). A model's project shows as its
tag ``slipway.project`` (given at creation; see :meth:`MlflowCall.project_for_new`); searches list
only the models the caller may read.
"""

from __future__ import annotations

import re
from typing import Any

from slipway.core.auth import authorised
from slipway.core.errors import PermissionDenied
from slipway.registry.records import ModelVersion, RegisteredModel
from slipway.server.mlflow.convert import artifact_uri, experiment_id
from slipway.server.mlflow.logged_models import parse_id
from slipway.server.mlflow.protocol import PROJECT_TAG, MlflowCall, MlflowError, Routes
from slipway.server.mlflow.runs import key_values

_SOURCE = re.compile(r"^(?:runs:/(?P<run>[^/]+)/(?P<path>.+)|mlflow-artifacts:/[^/]+/(?P<run2>[^/]+)/artifacts/(?P<path2>.+))$")
_CLAUSE = re.compile(r"^\s*(name|tags?\.`([^`]+)`|tags?\.([\w.\-]+))\s*(=|!=|LIKE|ILIKE)\s*'([^']*)'\s*$", re.I)


def refuse(what: str, why: str) -> MlflowError:
    return MlflowError(f"{what} is not supported by Slipway: {why}", "NOT_IMPLEMENTED", 501)


def model_json(model: RegisteredModel, latest: list[ModelVersion] | None = None, source: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": model.name, "creation_timestamp": model.created_ms, "last_updated_timestamp": model.updated_ms,
        "description": model.description, "user_id": model.owner,
        "tags": [{"key": k, "value": v} for k, v in _tags_of(model).items()],
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
    }
    if latest:
        out["latest_versions"] = [version_json(source or call_free, v) for v in latest]
    return out


def _tags_of(model: RegisteredModel) -> dict[str, str]:
    """The model's tags and its project (``slipway.project``), as clients see and filter them."""
    return {**model.tags, PROJECT_TAG: model.project}


def call_free(version: ModelVersion) -> str:
    return f"runs:/{version.run_id}/{version.artifact_path}"


def version_json(source: Any, version: ModelVersion) -> dict[str, Any]:
    return {
        "name": version.name, "version": str(version.version), "creation_timestamp": version.created_ms,
        "last_updated_timestamp": version.updated_ms, "user_id": version.created_by, "current_stage": "None",
        "description": version.description, "source": source(version), "run_id": version.run_id or "",
        "status": "READY", "tags": [{"key": k, "value": v} for k, v in version.tags.items()],
        "aliases": sorted(version.aliases),
        **({"model_id": version.artifact_path[len("models/"):]} if version.artifact_path.startswith("models/m-") else {}),
    }


def _source_of(call: MlflowCall) -> Any:
    def source(version: ModelVersion) -> str:
        if not version.run_id:
            return call_free(version)
        try:
            run = call.tracking.get_run(version.run_id)
            experiment = call.tracking.get_experiment(run.experiment_id)
        except PermissionDenied:  # a run of a project the caller may not read: its path only
            return call_free(version)
        return f"{artifact_uri(experiment_id(experiment), run.id)}/{version.artifact_path}"
    return source


def create_model(call: MlflowCall) -> dict[str, Any]:
    tags = key_values(call, "tags")
    project = call.project_for_new("registry.write", tags.pop(PROJECT_TAG, None))
    model = call.registry.create_model(call.text("name"), call.fields.get("description") or "", tags=tags,
                                       project=project)
    return {"registered_model": model_json(model)}


def get_model(call: MlflowCall) -> dict[str, Any]:
    model = call.registry.get_model(call.text("name"))
    return {"registered_model": model_json(model, _latest(call, model), _source_of(call))}


def _latest(call: MlflowCall, model: RegisteredModel) -> list[ModelVersion]:
    return [call.registry.get_version(model.name, model.latest_version)] if model.latest_version else []


def registry_filter(text: str | None) -> Any:
    """A predicate ``(name, tags) -> bool`` for MLflow's registry filters: clauses ``name`` or
    ``tags.<key>`` with ``= != LIKE ILIKE`` and a quoted value, joined by AND (as the client
    sends them, e.g. its own ``tags.`mlflow.prompt.is_prompt` != 'true'``)."""
    checks = []
    for clause in re.split(r"\s+AND\s+", text or "", flags=re.I) if text and text.strip() else []:
        match = _CLAUSE.match(clause)
        if match is None:
            raise MlflowError(f"Unsupported registry filter clause {clause!r}: use name or tags.<key> with = != LIKE ILIKE "
                              "and a quoted value, joined by AND")
        field, op, value = match.group(1).lower(), match.group(4).upper(), match.group(5)
        key = None if field == "name" else match.group(2) or match.group(3)
        checks.append((key, op, value))

    def matches(name: str, tags: dict[str, str]) -> bool:
        for key, op, value in checks:
            actual = name if key is None else tags.get(key)
            if (op == "=" and actual != value) or (op == "!=" and actual == value):
                return False
            if op in ("LIKE", "ILIKE"):
                pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value)
                if actual is None or not re.fullmatch(pattern, actual, re.I if op == "ILIKE" else 0):
                    return False
        return True

    return matches


def search_models(call: MlflowCall) -> dict[str, Any]:
    """The readable models matching the filter, a page at a time (the token is an offset into them)."""
    matches = registry_filter(call.optional("filter"))
    size = call.integer("max_results", 1000)
    offset = call.integer("page_token", 0) if call.fields.get("page_token") else 0
    if size < 1 or offset < 0:
        raise MlflowError(f"Invalid max_results {size} or page_token {offset}")
    found = [m for m in call.registry.list_models() if matches(m.name, _tags_of(m))]
    result: dict[str, Any] = {"registered_models": [model_json(m, _latest(call, m), _source_of(call))
                                                    for m in found[offset: offset + size]]}
    if offset + size < len(found):
        result["next_page_token"] = str(offset + size)
    return result


def update_model(call: MlflowCall) -> dict[str, Any]:
    model = call.registry.update_model(call.text("name"), description=call.fields.get("description"))
    return {"registered_model": model_json(model)}


def set_model_tag(call: MlflowCall) -> dict[str, Any]:
    name, key, value = call.text("name"), call.text("key"), call.text("value", "")
    if key == PROJECT_TAG:  # a no-op at most, but only for a caller who may change the model
        registry = authorised(call.registry, "update_model", ("registry.write",), {"name": name})
        project = registry.get_model(name).project
        if value != project:
            raise MlflowError(f"registered model {name!r} belongs to project {project!r}; a model's project is set "
                              "when it is created and cannot change")
        return {}
    call.registry.update_model(name, tags={key: value})
    return {}


def create_version(call: MlflowCall) -> dict[str, Any]:
    source = call.text("source")
    logged = call.optional("model_id") or (source[len("models:/"):] if source.startswith("models:/m-") else None)
    match = _SOURCE.match(source)
    if logged is not None:
        run_id, path = parse_id(logged), f"models/{logged}"
    elif match is not None:
        run_id = call.optional("run_id") or match.group("run") or match.group("run2")
        path = str(match.group("path") or match.group("path2")).rstrip("/")
    else:
        raise MlflowError(f"Invalid model version source {source!r}: Slipway registers a model bundle logged by a run "
                          "('models:/<logged model id>', 'runs:/<run>/<path>' or "
                          "'mlflow-artifacts:/<exp>/<run>/artifacts/<path>')")
    version = call.registry.register_version(call.text("name"), run_id, path, call.fields.get("description") or "",
                                             key_values(call, "tags"))
    return {"model_version": version_json(_source_of(call), version)}


def get_version(call: MlflowCall) -> dict[str, Any]:
    version = call.registry.get_version(call.text("name"), call.integer("version"))
    return {"model_version": version_json(_source_of(call), version)}


def search_versions(call: MlflowCall) -> dict[str, Any]:
    text = call.optional("filter") or ""
    match = re.search(r"\bname\s*=\s*'([^']+)'", text)
    if match is None:
        raise MlflowError(f"Unsupported model version filter {text!r}: Slipway searches versions of one model "
                          "(name = '...', optionally AND tags.<key> = '...')")
    matches = registry_filter(text)
    versions = [v for v in call.registry.list_versions(match.group(1)) if matches(v.name, v.tags)]
    return {"model_versions": [version_json(_source_of(call), v) for v in versions[: call.integer("max_results", 10_000)]]}


def latest_versions(call: MlflowCall) -> dict[str, Any]:
    if [s for s in call.items("stages") if s.lower() != "none"]:
        raise refuse("get-latest-versions by stage", "Slipway has no stages; use aliases (get-by-alias)")
    model = call.registry.get_model(call.text("name"))
    return {"model_versions": [version_json(_source_of(call), v) for v in _latest(call, model)]}


def update_version(call: MlflowCall) -> dict[str, Any]:
    version = call.registry.update_version(call.text("name"), call.integer("version"),
                                           description=call.fields.get("description"))
    return {"model_version": version_json(_source_of(call), version)}


def set_version_tag(call: MlflowCall) -> dict[str, Any]:
    call.registry.update_version(call.text("name"), call.integer("version"), tags={call.text("key"): call.text("value", "")})
    return {}


def delete_model_tag(call: MlflowCall) -> dict[str, Any]:
    name, key = call.text("name"), call.text("key")
    if key == PROJECT_TAG:
        raise MlflowError(f"{PROJECT_TAG!r} is the model's project, not a stored tag; it cannot be deleted")
    call.registry.update_model(name, untag=[key])
    return {}


def delete_version_tag(call: MlflowCall) -> dict[str, Any]:
    call.registry.update_version(call.text("name"), call.integer("version"), untag=[call.text("key")])
    return {}


def download_uri(call: MlflowCall) -> dict[str, Any]:
    version = call.registry.get_version(call.text("name"), call.integer("version"))
    return {"artifact_uri": _source_of(call)(version)}


def set_alias(call: MlflowCall) -> dict[str, Any]:
    call.registry.set_alias(call.text("name"), call.text("alias"), call.integer("version"))
    return {}


def delete_alias(call: MlflowCall) -> dict[str, Any]:
    call.registry.delete_alias(call.text("name"), call.text("alias"))
    return {}


def get_by_alias(call: MlflowCall) -> dict[str, Any]:
    version = call.registry.resolve(f"{call.text('name')}@{call.text('alias')}")
    return {"model_version": version_json(_source_of(call), version)}


def _refused(what: str, why: str) -> Any:
    def handler(_call: MlflowCall) -> dict[str, Any]:
        raise refuse(what, why)
    return handler


_AUDIT = "registered models and versions are kept as the audit record of what was built and served"
ROUTES: Routes = [
    ("POST", "/registered-models/create", create_model),
    ("GET", "/registered-models/get", get_model),
    ("GET", "/registered-models/search", search_models),
    ("POST", "/registered-models/search", search_models),
    ("PATCH", "/registered-models/update", update_model),
    ("POST", "/registered-models/set-tag", set_model_tag),
    ("DELETE", "/registered-models/delete-tag", delete_model_tag),
    ("POST", "/registered-models/get-latest-versions", latest_versions),
    ("GET", "/registered-models/get-latest-versions", latest_versions),
    ("POST", "/registered-models/alias", set_alias),
    ("DELETE", "/registered-models/alias", delete_alias),
    ("GET", "/registered-models/alias", get_by_alias),
    ("DELETE", "/registered-models/delete", _refused("deleting a registered model", _AUDIT)),
    ("POST", "/registered-models/rename", _refused("renaming a registered model", _AUDIT)),
    ("POST", "/model-versions/create", create_version),
    ("GET", "/model-versions/get", get_version),
    ("GET", "/model-versions/search", search_versions),
    ("POST", "/model-versions/search", search_versions),
    ("PATCH", "/model-versions/update", update_version),
    ("POST", "/model-versions/set-tag", set_version_tag),
    ("DELETE", "/model-versions/delete-tag", delete_version_tag),
    ("GET", "/model-versions/get-download-uri", download_uri),
    ("DELETE", "/model-versions/delete", _refused("deleting a model version", _AUDIT)),
    ("POST", "/model-versions/transition-stage",
     _refused("stage transitions", "Slipway has no stages; point an alias (e.g. champion) at the version instead")),
]
