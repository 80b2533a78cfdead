"""What the deployment service returns."""

from __future__ import annotations

from typing import Any

from slipway.core.records import record


@record
class Variant:
    """One model version behind a deployment, its role and its share of production traffic (%)."""

    name: str
    role: str  # stable | canary | shadow
    ref: str
    model: str
    version: int
    weight: float


@record
class Deployment:
    name: str
    revision: int
    status: str  # stable | canary | promoted | rolled_back
    variants: list[Variant]
    spec: dict[str, Any]
    canary_step: int
    step_started_ms: int
    created_ms: int
    updated_ms: int
    project: str = "default"


@record
class DeploymentStatus:
    """A deployment and, per variant, what the servers measured since the current revision began
    (requests, errors, latency quantiles, mean prediction; agreement with the primary for shadows)."""

    deployment: Deployment
    variants: dict[str, dict[str, Any]]
    last_decision: dict[str, Any] | None


@record
class HistoryEntry:
    revision: int
    action: str
    actor: str
    details: dict[str, Any]
    created_ms: int


@record
class PayloadSegment:
    id: str
    deployment: str
    digest: str
    rows: int
    requests: int
    first_ms: int
    last_ms: int
    columns: list[str]
