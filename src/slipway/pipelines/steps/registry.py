"""``register_model`` and ``request_approval``: hand a blessed candidate to the registry and
governance."""

from __future__ import annotations

from typing import Any

from slipway.core.errors import InvalidInput, NotFound
from slipway.pipelines.context import StepContext
from slipway.pipelines.dsl import step


def _run_and_path(model: Any) -> tuple[str, str]:
    """A ModelInfo (from ``slipway.log_model``), a ``runs:/<id>/<path>`` URI or a mapping."""
    if hasattr(model, "run_id") and hasattr(model, "artifact_path"):
        return model.run_id, model.artifact_path
    if isinstance(model, dict) and "run_id" in model:
        return model["run_id"], model.get("artifact_path", "model")
    if isinstance(model, str) and model.startswith("runs:/"):
        run_id, _, path = model.removeprefix("runs:/").partition("/")
        return run_id, path or "model"
    raise InvalidInput(f"register_model needs a logged model (ModelInfo or 'runs:/<id>/<path>'), got {model!r}")


def _already_registered(registry: Any, model_name: str, run_id: str, path: str) -> Any:
    """The version of ``model_name`` made from this very bundle, if any: registering is idempotent."""
    try:
        versions = registry.list_versions(model_name)
    except NotFound:
        return None
    return next((v for v in versions if v.run_id == run_id and v.artifact_path == path), None)


@step(local=True)
def register_model(model: Any, model_name: str, alias: str | None = None, description: str = "",
                   context: StepContext = None) -> Any:  # type: ignore[assignment]
    """Register ``model`` as the next version of ``model_name`` (optionally pointing ``alias`` at it);
    a bundle already registered under ``model_name`` is not registered twice.

    Give it ``when=<verdict of evaluate_and_bless>`` so only blessed candidates are registered.
    The platform records ``pipeline_run --produced--> model_version`` (the registry reports it).
    """
    run_id, path = _run_and_path(model)
    registry = context.workspace.registry
    version = _already_registered(registry, model_name, run_id, path)
    if version is None:
        version = registry.register_version(model_name, run_id, path, description,
                                            {"slipway.pipeline_run": context.run_id})
    if alias:
        version = registry.set_alias(model_name, alias, version.version)
    print(f"registered {version.ref}" + (f" as {model_name}@{alias}" if alias else ""))
    return version


@step(local=True)
def request_approval(model_version: Any, reason: str = "candidate blessed by the evaluation gate",
                     context: StepContext = None) -> Any:  # type: ignore[assignment]
    """Ask governance to approve a registered version (``ModelVersion`` or ``name/3``)."""
    ref = model_version.ref if hasattr(model_version, "ref") else str(model_version)
    request = context.workspace.governance.request_approval(ref, f"{reason} (pipeline run {context.run_id})")
    print(f"approval requested for {ref}")
    return request
