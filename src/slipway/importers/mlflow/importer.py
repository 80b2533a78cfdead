"""``import_mlflow``: experiments, runs (with their full metric history, params, tags, artifacts and
logged models), then registered models, versions and aliases, from an MLflow store.

Each run is written whole in one transaction (``run.import``), tagged with its MLflow run id, so
a second import skips it and an import killed half-way leaves only whole runs: running it again
imports the rest. Registry objects are written through the registry's own API (audited, with
lineage from run to version) and found again by the MLflow name and version they carry as tags.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import orjson

from slipway.core.errors import InvalidInput, NotFound, SlipwayError
from slipway.core.limits import PARAM_VALUE, TAG_VALUE
from slipway.core.names import check_key
from slipway.importers.mlflow import naming
from slipway.importers.mlflow.artifacts import ArtifactReader, StoredFiles
from slipway.importers.mlflow.source import (
    MlflowExperiment,
    MlflowLoggedModel,
    MlflowRun,
    MlflowSource,
    open_source,
)
from slipway.models.flavors.mlflow import store_mlflow_bundle
from slipway.tracking.records import ImportedRun, RunArtifact

_SPECIAL = {math.inf: "Infinity", -math.inf: "-Infinity"}
_RUN_ID = re.compile(r"[0-9a-f]{32}")  # MLflow's run ids, kept as Slipway's when they have this form


@dataclasses.dataclass
class ImportSummary:
    """What an import did: counts of objects imported now and found imported already, and each
    object (or part of one) skipped with the reason."""

    source: str
    imported: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    already: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    skipped: list[dict[str, str]] = dataclasses.field(default_factory=list)
    renamed: list[dict[str, str]] = dataclasses.field(default_factory=list)

    def skip(self, kind: str, ident: str, reason: str) -> None:
        self.skipped.append({"kind": kind, "id": ident, "reason": reason})

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "imported": dict(self.imported), "already_imported": dict(self.already),
                "skipped": self.skipped, "renamed": self.renamed}


class MlflowImport:
    """One import from ``source`` into the workspace ``ws`` (see :func:`import_mlflow`)."""

    def __init__(self, ws: Any, source: MlflowSource, artifacts: ArtifactReader,
                 progress: Callable[[str], None] | None = None, batch_runs: int = 200) -> None:
        self.ws, self.source, self.artifacts = ws, source, artifacts
        self.batch_runs = batch_runs
        self.pending: list[ImportedRun] = []
        self.tracking = ws.backend("tracking")
        self.summary = ImportSummary(source.description)
        self.progress = progress or (lambda _message: None)
        self.run_ids: dict[str, str] = self.tracking.imported_runs(naming.RUN_ORIGIN)  # MLflow id -> Slipway id

    def name(self, kind: str, name: str, fallback: str) -> str:
        # Experiments and runs keep MLflow's free-text names; everything else must be a Slipway name.
        new = (naming.slipway_label if kind in ("experiment", "run") else naming.slipway_name)(name, fallback)
        if new != name:
            self.summary.renamed.append({"kind": kind, "from": name, "to": new})
        return new

    # -- experiments and runs -------------------------------------------------------------------
    def experiments(self) -> list[tuple[MlflowExperiment, str]]:
        kept = []
        for exp in self.source.experiments():
            if exp.lifecycle == "deleted":
                self.summary.skip("experiment", exp.name, "deleted in MLflow")
                continue
            name = self.name("experiment", exp.name, f"mlflow-experiment-{exp.id}")
            dropped = sorted(k for k in exp.tags if k != "mlflow.note.content")
            if dropped:
                self.summary.skip("experiment tags", name, f"experiment tags are not imported yet: {', '.join(dropped)}")
            try:
                self.tracking.get_experiment(name)
                self.summary.already["experiments"] += 1
            except NotFound:
                description = exp.tags.get("mlflow.note.content") or f"Imported from MLflow experiment {exp.id}"
                self.tracking.create_experiment(name, description[:6000])
                self.summary.imported["experiments"] += 1
            kept.append((exp, name))
        return kept

    def runs(self, exp: MlflowExperiment, name: str, logged: dict[str, list[MlflowLoggedModel]]) -> None:
        for run in self.source.runs(exp.id):
            if run.id in self.run_ids:
                self.summary.already["runs"] += 1
            elif run.lifecycle == "deleted":
                self.summary.skip("run", run.id, "deleted in MLflow")
            elif run.status in ("RUNNING", "SCHEDULED"):
                self.summary.skip("run", run.id, f"{run.status} in MLflow: import again once it has ended")
            else:
                try:
                    self.pending.append(self.run(run, name, exp.id, logged.get(run.id, [])))
                except SlipwayError as err:
                    self.summary.skip("run", run.id, str(err))
                if len(self.pending) >= self.batch_runs or sum(len(i.metrics) for i in self.pending) >= 200_000:
                    self.flush()
        self.flush()

    def flush(self) -> None:
        """Write the pending runs in one transaction; if it is refused, each run alone, so one bad
        run is skipped with its reason and the others are imported."""
        pending, self.pending = self.pending, []
        for batch in [pending] if len(pending) == 1 else [pending, *([item] for item in pending)]:
            try:
                results = self.tracking.import_runs(batch)
            except SlipwayError as err:
                if len(batch) == 1:
                    self.summary.skip("run", batch[0].origin[naming.RUN_ORIGIN], str(err))
                continue
            for item, done in zip(batch, results, strict=True):
                self.run_ids[item.origin[naming.RUN_ORIGIN]] = done.run_id
                counts = self.summary.imported if done.created else self.summary.already
                counts["runs"] += 1
                if done.created:
                    counts["metric_points"] += len(item.metrics)
                    counts["artifacts"] += len(item.artifacts)
                    counts["logged_models"] += sum(k.startswith(naming.LOGGED_MODEL_TAG) for k in item.tags)
            if batch is pending:
                return  # written whole; the one-run retries are only for a refused batch

    def run(self, run: MlflowRun, experiment: str, experiment_id: str, logged: list[MlflowLoggedModel]) -> ImportedRun:
        params, tags, points = self.source.run_data(run)
        params, refused = naming.valid_pairs(params, "param", PARAM_VALUE)
        tags, refused_tags = naming.valid_pairs(tags, "tag", TAG_VALUE)
        for reason in refused + refused_tags:
            self.summary.skip("run part", run.id, reason)
        artifacts, models = self.run_artifacts(run, logged)
        tags.update(models)
        tags.update({naming.EXPERIMENT_ID: experiment_id, naming.SOURCE: self.source.description[:TAG_VALUE],
                     naming.ARTIFACT_URI: run.artifact_uri[:TAG_VALUE]})
        parent = tags.get("mlflow.parentRunId") or ""
        pending = {i.id for i in self.pending}
        parent_id = self.run_ids.get(parent) or (parent if parent in pending else None)
        if parent_id is not None:  # the tag names the parent's Slipway id, as for runs logged through slipway server
            tags.update({"mlflow.parentRunId": parent_id, naming.PARENT_ORIGIN: parent})
        return ImportedRun(
            experiment=experiment, name=self.name("run", run.name or tags.get("mlflow.runName", ""), f"run-{run.id[:8]}"),
            status=run.status, start_ms=run.start_ms, end_ms=run.end_ms,
            user=naming.slipway_name(run.user, "mlflow"), origin={naming.RUN_ORIGIN: run.id}, params=params, tags=tags,
            metrics=[(k, _SPECIAL.get(v, "NaN" if v != v else v), s, t) for k, v, s, t in points],
            artifacts=artifacts, parent_id=parent_id, source=tags.get("mlflow.source.name"),
            git_commit=tags.get("mlflow.source.git.commit"), id=run.id if _RUN_ID.fullmatch(run.id) else None)

    def run_artifacts(self, run: MlflowRun, logged: list[MlflowLoggedModel]) -> tuple[list[RunArtifact], dict[str, str]]:
        """The run's files (each MLflow model folder among them as one ``mlflow`` bundle) and its
        READY logged models as bundles under ``models/<model_id>``, with their description tags."""
        files = self.artifacts.store(run.artifact_uri) if run.artifact_uri else {}
        folders = sorted({p.rsplit("/", 1)[0] if "/" in p else "" for p in files if p.rsplit("/", 1)[-1] == "MLmodel"})
        found: list[RunArtifact] = [self.bundle(folder or "model", _under(files, folder)) for folder in folders]
        for path, (digest, size) in files.items():
            if any(folder == "" or path.startswith(folder + "/") for folder in folders):
                continue
            try:
                found.append(RunArtifact(check_key(path, "artifact path"), digest, "file", size))
            except InvalidInput as err:
                self.summary.skip("artifact", f"{run.id}/{path}", str(err))
        tags: dict[str, str] = {}
        for model in logged:
            if model.status != "READY" or model.lifecycle == "deleted":
                self.summary.skip("logged model", model.id, f"{model.status.lower()} in MLflow, not READY")
                continue
            found.append(self.bundle(f"models/{model.id}", self.artifacts.store(model.artifact_uri)))
            tags[naming.LOGGED_MODEL_TAG + model.id] = orjson.dumps({
                "name": model.name, "status": "LOGGED_MODEL_READY", "model_type": model.model_type,
                "created": model.created_ms, "updated": model.updated_ms, "tags": model.tags,
                "params": model.params}).decode()
        return found, tags

    def bundle(self, path: str, files: StoredFiles) -> RunArtifact:
        digest, size = store_mlflow_bundle(self.ws.blobs, files)
        return RunArtifact(path, digest, "dir", size)


def _under(files: StoredFiles, folder: str) -> StoredFiles:
    if not folder:
        return dict(files)
    prefix = folder + "/"
    return {p[len(prefix):]: f for p, f in files.items() if p.startswith(prefix)}


def import_mlflow(ws: Any, uri: str, artifacts: str | None = None, token: str | None = None,
                  progress: Callable[[str], None] | None = None, batch_runs: int = 200) -> ImportSummary:
    """Import an MLflow tracking store into the workspace ``ws``.

    Args:
        uri: MLflow's tracking URI: a database (``sqlite:///mlflow.db``, ``postgresql://…``, read
            read-only), a running server (``http://host:5000``, read through its REST API), or a
            file store (``file:///path/to/mlruns`` or the folder's path).
        artifacts: where ``mlflow-artifacts:`` locations are (the MLflow server's URL or its
            ``--artifacts-destination`` folder); by default the server being imported. Local
            folders and object-store URLs in the store are read where they are.
        token: a bearer token for the MLflow server.
        progress: called with a line of text as each experiment and model is done.
        batch_runs: runs written per transaction (fewer when they hold over 200,000 points).

    Returns:
        The summary: counts imported now and found already imported, and everything skipped with why.

    Raises:
        InvalidInput: a URI that is not an MLflow store, or a store that cannot be read.
    """
    from slipway.importers.mlflow.registry import import_registry
    from slipway.importers.mlflow.rest import RestSource

    source: Any = RestSource(uri, token) if uri.startswith(("http://", "https://")) else open_source(uri)
    http = source.http if isinstance(source, RestSource) and artifacts is None else None
    reader = ArtifactReader(ws.blobs, artifacts or (source.url if http is not None else None), http)
    try:
        job = MlflowImport(ws, source, reader, progress, batch_runs)
        experiments = job.experiments()
        logged: dict[str, list[MlflowLoggedModel]] = defaultdict(list)
        for model in source.logged_models([exp.id for exp, _ in experiments]):
            if model.source_run_id:
                logged[model.source_run_id].append(model)
        for exp, name in experiments:
            job.runs(exp, name, logged)
            job.progress(f"experiment {name}: {job.summary.imported.get('runs', 0)} runs imported so far")
        import_registry(job)
        return job.summary
    finally:
        if http is None:
            reader.close()
        source.close()
