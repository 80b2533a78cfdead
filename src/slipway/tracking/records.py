"""What the tracking service returns."""

from __future__ import annotations

from typing import Any

from slipway.core.records import record

RUN_STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")


@record
class Experiment:
    id: str
    name: str
    description: str
    lifecycle: str
    created_ms: int
    project: str = "default"


@record
class Metric:
    key: str
    value: float
    step: int
    ts: int


@record
class RunArtifact:
    path: str
    digest: str
    kind: str  # file | dir
    size: int


@record
class RunInput:
    dataset: str
    version: int | None
    digest: str
    context: str


@record
class Run:
    """A run with its latest metrics, params and tags (the shape MLflow users know)."""

    id: str
    experiment_id: str
    name: str
    parent_id: str | None
    status: str
    start_ms: int
    end_ms: int | None
    lifecycle: str
    user: str
    git_commit: str | None
    git_dirty: bool | None
    source: str | None
    packages_digest: str | None
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]

    @property
    def duration_ms(self) -> int | None:
        return None if self.end_ms is None else self.end_ms - self.start_ms


@record
class RunPage:
    runs: list[Run]
    next_token: str | None


@record
class MetricHistoryPage:
    """A page of a metric's points; ``next_token`` continues after its last point (None at the end)."""

    metrics: list[Metric]
    next_token: str | None


@record
class RunComparison:
    run_ids: list[str]
    params: dict[str, list[str | None]]
    metrics: dict[str, list[float | None]]
    differing_params: list[str]


def run_summary(run: Run) -> dict[str, Any]:
    return {"id": run.id, "name": run.name, "status": run.status, "experiment_id": run.experiment_id}


@record
class ImportedRun:
    """A finished run brought in from another tracking system, written whole by
    :meth:`~slipway.tracking.backend.TrackingBackend.import_run` (one transaction).

    ``origin`` is the tag that names where it came from (``{"mlflow.import.run_id": "ab12…"}``):
    a run carrying it already is not imported twice. ``id`` keeps the other system's run id (32
    hex characters) as the Slipway run id, so references to it keep working; None makes a new
    one. ``metrics`` are ``(key, value, step, timestamp_ms)`` points; ``artifacts`` are already
    in the artifact store.
    """

    experiment: str
    name: str
    status: str
    start_ms: int
    end_ms: int | None
    user: str
    origin: dict[str, str]
    params: dict[str, str]
    tags: dict[str, str]
    metrics: list[tuple[str, float | str, int, int]]
    artifacts: list[RunArtifact]
    parent_id: str | None = None
    source: str | None = None
    git_commit: str | None = None
    experiment_description: str = ""
    id: str | None = None


@record
class RunImport:
    """What :meth:`~slipway.tracking.backend.TrackingBackend.import_run` did: the Slipway run id,
    and whether it was written now (False: a run with the same origin was there already)."""

    run_id: str
    created: bool
