"""What the registry returns."""

from __future__ import annotations

from typing import Any

from slipway.core.records import record


@record
class RegisteredModel:
    name: str
    description: str
    owner: str
    risk_tier: str
    tags: dict[str, str]
    created_ms: int
    updated_ms: int
    latest_version: int | None
    aliases: dict[str, int]
    project: str = "default"


@record
class ModelVersion:
    """One version of a registered model, with what it was built from.

    ``state`` is the governance state (``registered`` until governance moves it); ``metrics`` and
    ``params`` are snapshots of the run's at registration; ``datasets`` are the run's inputs as
    ``{"dataset", "version", "digest", "context"}``.
    """

    name: str
    version: int
    run_id: str | None
    artifact_path: str
    bundle_digest: str
    flavor: str
    signature: dict[str, Any]
    metrics: dict[str, float]
    params: dict[str, str]
    datasets: list[dict[str, Any]]
    description: str
    tags: dict[str, str]
    state: str
    aliases: list[str]
    created_by: str
    created_ms: int
    updated_ms: int

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"


@record
class ReproduceInfo:
    """What is needed to rebuild a model version: code, environment, parameters and data."""

    name: str
    version: int
    run_id: str | None
    experiment: str | None
    git_commit: str | None
    git_dirty: bool | None
    source: str | None
    packages_digest: str | None
    packages_lock: str | None
    params: dict[str, str]
    datasets: list[dict[str, Any]]
    bundle_digest: str


@record
class Reproduction:
    """What ``slipway models reproduce --run`` found: the re-run's exit code and output, the run
    it made, and each param, metric and dataset input of the original run beside the re-run's
    (``{"kind", "key", "original", "reproduced", "same"}``). ``output`` and ``errors`` are what the
    re-run wrote to stdout and stderr."""

    name: str
    version: int
    original_run: str
    reproduced_run: str | None
    exit_code: int
    output: str
    errors: str
    comparisons: list[dict[str, Any]]

    @property
    def matches(self) -> bool:
        """The re-run succeeded, made a run, and every param, metric and input agrees."""
        return self.exit_code == 0 and self.reproduced_run is not None and all(c["same"] for c in self.comparisons)
