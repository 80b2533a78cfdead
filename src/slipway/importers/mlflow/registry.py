"""The registry half of ``slipway import mlflow``: registered models, versions and aliases.

A version is registered from the imported run that made it (so it gets Slipway's snapshot of
the run's metrics and params, the lineage edge run → version and its audit event), from the
bundle of its MLflow model folder: the run's ``models/<model_id>`` (MLflow 3 logged models) or the
run's artifact folder its source names (``runs:/<run>/model``). Versions keep their MLflow number,
time and author as tags and are found again by them; aliases follow, under Slipway's governance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.core.errors import Conflict, NotFound, SlipwayError
from slipway.core.limits import TAG_VALUE
from slipway.importers.mlflow import naming
from slipway.importers.mlflow.source import MlflowModelVersion, MlflowRegisteredModel

if TYPE_CHECKING:
    from slipway.importers.mlflow.importer import MlflowImport


def _artifact_path(version: MlflowModelVersion, run_artifacts: set[str], artifact_uri: str | None) -> str | None:
    """The imported run's bundle artifact that holds ``version``'s model, if there is one."""
    candidates = []
    if version.model_id:
        candidates.append(f"models/{version.model_id}")
    source = version.source or ""
    if source.startswith("runs:/"):
        candidates.append(source.removeprefix("runs:/").partition("/")[2].strip("/"))
    if artifact_uri and source.startswith(artifact_uri.rstrip("/") + "/"):
        candidates.append(source[len(artifact_uri.rstrip("/")) + 1:].strip("/"))
    return next((c for c in candidates if c in run_artifacts), None)


def import_registry(job: MlflowImport) -> None:
    for model in job.source.registered_models():
        try:
            _import_model(job, model)
        except SlipwayError as err:
            job.summary.skip("registered model", model.name, str(err))
        job.progress(f"registered model {model.name}")


def _import_model(job: MlflowImport, model: MlflowRegisteredModel) -> None:
    registry, summary = job.ws.registry, job.summary
    name = job.name("registered model", model.name, "mlflow-model")
    try:
        registry.get_model(name)
        summary.already["registered_models"] += 1
    except NotFound:
        tags, refused = naming.valid_pairs(model.tags, "tag", TAG_VALUE)
        for reason in refused:
            summary.skip("registered model part", model.name, reason)
        registry.create_model(name, model.description[:6000], tags={
            **tags, naming.MODEL_NAME: model.name, naming.CREATED: str(model.created_ms)})
        summary.imported["registered_models"] += 1
    numbers = {int(v.tags[naming.VERSION]): v.version for v in registry.list_versions(name) if naming.VERSION in v.tags}
    for version in job.source.versions(model.name):
        ident = f"{model.name}/{version.version}"
        if version.version in numbers:
            summary.already["model_versions"] += 1
            continue
        try:
            numbers[version.version] = _import_version(job, name, version)
            summary.imported["model_versions"] += 1
        except SlipwayError as err:
            summary.skip("model version", ident, str(err))
    current = registry.get_model(name).aliases
    for alias, mlflow_version in sorted(model.aliases.items()):
        target = numbers.get(mlflow_version)
        if target is None:
            summary.skip("alias", f"{model.name}@{alias}", f"its version {mlflow_version} was not imported")
        elif current.get(alias) == target:
            summary.already["aliases"] += 1
        else:
            try:
                registry.set_alias(name, alias, target)
                summary.imported["aliases"] += 1
            except SlipwayError as err:
                summary.skip("alias", f"{model.name}@{alias}", str(err))


def _import_version(job: MlflowImport, name: str, version: MlflowModelVersion) -> int:
    if version.status != "READY":
        raise NotFound(f"its status in MLflow is {version.status}, not READY")
    run_id = job.run_ids.get(version.run_id or "")
    if run_id is None:
        raise NotFound(f"its run {version.run_id!r} was not imported (deleted, still running, or unknown)"
                       if version.run_id else "it names no run; Slipway registers versions from runs")
    tracking = job.tracking
    artifacts = {a.path for a in tracking.list_artifacts(run_id) if a.kind == "dir"}
    path = _artifact_path(version, artifacts, tracking.get_run(run_id).tags.get(naming.ARTIFACT_URI))
    if path is None:
        location = version.storage_uri or version.source
        files = job.artifacts.store(location)
        if "MLmodel" not in files:
            raise NotFound(f"no MLflow model folder found for it (source {version.source!r})")
        bundle = job.bundle(f"registered/{name}-v{version.version}", files)
        path = tracking.record_artifact(run_id, bundle.path, bundle.digest, "dir", bundle.size).path
    registered = job.ws.registry.register_version(name, run_id, path, version.description[:6000], tags={
        **naming.valid_pairs(version.tags, "tag", TAG_VALUE)[0], naming.VERSION: str(version.version),
        naming.CREATED: str(version.created_ms), naming.USER: version.user[:200], naming.SOURCE: version.source[:TAG_VALUE]})
    if registered.tags.get(naming.VERSION) != str(version.version):
        raise Conflict(f"it registers the same bundle of the same run as MLflow version "
                       f"{registered.tags.get(naming.VERSION)} (Slipway version {registered.version})")
    return int(registered.version)
