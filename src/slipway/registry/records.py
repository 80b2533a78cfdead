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
