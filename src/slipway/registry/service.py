"""``ws.registry``: the model registry as users call it, the same in embedded and remote mode.

Reads and changes go to the registry backend; :meth:`RegistryService.load` resolves a reference,
reads every file of the version's bundle from the artifact store, checks each against the
registered digest and only then builds the :class:`~slipway.models.predictor.Predictor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slipway.core.activity import report_created
from slipway.core.errors import Conflict
from slipway.models.files import read_verified_bundle
from slipway.models.predictor import Predictor, predictor_from_files
from slipway.registry.records import ModelVersion, RegisteredModel, ReproduceInfo, Reproduction
from slipway.store.context import Host

if TYPE_CHECKING:
    from slipway.registry.backend import RegistryBackend


class RegistryService:
    def __init__(self, host: Host) -> None:
        self._host = host
        self._backend: RegistryBackend = host.backend("registry")

    def _project(self, project: str | None) -> dict[str, str]:
        """``project=`` for a call that may create a model: the one given, or the workspace's when
        it is not the default (calls in the default project stay as they were)."""
        chosen = project or self._host.settings.project
        return {"project": chosen} if chosen and chosen != "default" else {}

    # -- models -----------------------------------------------------------------------------
    def create_model(self, name: str, description: str = "", owner: str | None = None, risk_tier: str = "low",
                     tags: dict[str, str] | None = None, *, project: str | None = None) -> RegisteredModel:
        """Create a registered model (name, description, owner, risk tier, tags) in ``project``
        (default: the workspace's, ``SLIPWAY_PROJECT``)."""
        return self._backend.create_model(name, description, owner, risk_tier, tags, **self._project(project))

    def update_model(self, name: str, description: str | None = None, owner: str | None = None,
                     risk_tier: str | None = None, tags: dict[str, str] | None = None) -> RegisteredModel:
        return self._backend.update_model(name, description, owner, risk_tier, tags)

    def get_model(self, name: str) -> RegisteredModel:
        return self._backend.get_model(name)

    def list_models(self, max_results: int = 100_000) -> list[RegisteredModel]:
        return self._backend.list_models(max_results)

    def search_models(self, name_like: str | None = None, tags: dict[str, str] | None = None,
                      max_results: int = 1000) -> list[RegisteredModel]:
        """Models by name pattern (``churn*`` or ``%churn%``) and tags (all must match)."""
        return self._backend.search_models(name_like, tags, max_results)

    # -- versions ---------------------------------------------------------------------------
    def register_version(self, name: str, run_id: str, artifact_path: str = "model", description: str = "",
                         tags: dict[str, str] | None = None, *, project: str | None = None) -> ModelVersion:
        """Register a run's model bundle as the next version of ``name`` (creating the model if
        missing, in ``project`` or the workspace's)."""
        self._host.service("tracking").flush()  # the metrics snapshot must include buffered points
        version: ModelVersion = self._backend.register_version(name, run_id, artifact_path, description, tags,
                                                               **self._project(project))
        report_created("model_version", version.ref)
        return version

    register_model = register_version

    def update_version(self, name: str, version: int, description: str | None = None,
                       tags: dict[str, str] | None = None) -> ModelVersion:
        return self._backend.update_version(name, version, description, tags)

    def get_version(self, name: str, version: int) -> ModelVersion:
        return self._backend.get_version(name, version)

    def list_versions(self, name: str) -> list[ModelVersion]:
        return self._backend.list_versions(name)

    def resolve(self, ref: str) -> ModelVersion:
        """The version ``ref`` names: ``name@alias``, ``name/3``, ``name/latest``, ``models:/…``."""
        return self._backend.resolve(ref)

    # -- aliases ----------------------------------------------------------------------------
    def set_alias(self, model_name: str, alias: str, version: int) -> ModelVersion:
        return self._backend.set_alias(model_name, alias, version)

    def delete_alias(self, model_name: str, alias: str) -> None:
        self._backend.delete_alias(model_name, alias)

    # -- loading and reproducing ------------------------------------------------------------
    def load(self, ref: str, **options: Any) -> Predictor:
        """Load a registered version as a Predictor, after verifying every bundle file.

        Raises:
            NotFound: unknown model, version or alias.
            IntegrityError: a bundle file no longer matches the registered digest (the message
                names the bundle digest and the file).
        """
        version = self.resolve(ref)
        files = read_verified_bundle(self._host.blobs, version.bundle_digest)
        return predictor_from_files(files, version.bundle_digest, version.ref, **options)

    def reproduce_info(self, ref: str) -> ReproduceInfo:
        return self._backend.reproduce_info(ref)

    def reproduce(self, ref: str, repo: str = ".") -> Reproduction:
        """Re-run the command line that trained ``ref`` at its commit, against this store, with
        the dataset versions it read pinned, and compare the new run with the original.

        Raises:
            Conflict: the version has no run, or its run cannot be re-run (no commit, no script,
                the commit is not in ``repo``).
        """
        from slipway.registry.reproduce import compare_runs, rerun

        info = self.reproduce_info(ref)
        if info.run_id is None:
            raise Conflict(f"{info.name}/{info.version} was not registered from a run; there is nothing to re-run")
        done = rerun(info, self._host.settings, repo)
        tracking = self._host.service("tracking")
        page = tracking.search_runs(f"tags.`slipway.reproduces` = '{info.run_id}'", order_by=["attributes.start_time DESC"],
                                    max_results=1)
        comparisons: list[dict[str, Any]] = []
        reproduced = page.runs[0].id if page.runs else None
        if reproduced is not None:
            original = tracking.get_run(info.run_id)
            again = tracking.get_run(reproduced)
            comparisons = compare_runs(original, again, _input_refs(tracking, info.run_id), _input_refs(tracking, reproduced))
        return Reproduction(info.name, info.version, info.run_id, reproduced, done.returncode, done.stdout or "",
                            done.stderr or "", comparisons)


def _input_refs(tracking: Any, run_id: str) -> list[str]:
    return [f"{i.dataset}@{i.version}" if i.version is not None else f"{i.dataset}#{i.digest[:12]}"
            for i in tracking.list_inputs(run_id)]
