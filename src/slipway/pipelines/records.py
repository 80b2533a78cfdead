"""What the pipelines service returns: runs, step runs, schedules, triggers."""

from __future__ import annotations

from typing import Any

from slipway.core.records import record

RUN_STATUSES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
FINAL_RUN_STATUSES = ("SUCCEEDED", "FAILED", "CANCELLED")
STEP_STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "CACHED", "FAILED", "SKIPPED")
FINAL_STEP_STATUSES = ("SUCCEEDED", "CACHED", "FAILED", "SKIPPED")


@record
class StepRun:
    """One step of one pipeline run.

    ``outputs`` maps each output name to ``{"digest", "kind", "size"}`` (the bytes are blobs);
    ``details`` holds what the step reported (a gate's verdict, errors of failed attempts, why it
    was skipped).
    """

    id: str
    key: str
    step: str
    position: int
    upstream: list[str]
    status: str
    cache_key: str | None
    cached: bool
    attempts: int
    start_ms: int | None
    end_ms: int | None
    outputs: dict[str, dict[str, Any]]
    logs_digest: str | None
    error: str | None
    traceback: str | None
    details: dict[str, Any]

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)

    @property
    def duration_ms(self) -> int | None:
        if self.start_ms is None or self.end_ms is None:
            return None
        return self.end_ms - self.start_ms


@record
class PipelineRun:
    """A run of a pipeline with its steps (in DAG order) and why it started (``reason``)."""

    id: str
    pipeline: str
    source: str
    status: str
    runner: str
    params: dict[str, Any]
    reason: dict[str, Any]
    resumed_from: str | None
    user: str
    created_ms: int
    start_ms: int | None
    end_ms: int | None
    error: str | None
    steps: list[StepRun]
    heartbeat_ms: int | None = None  # last sign of life of the process executing a RUNNING run
    project: str = "default"  # the workspace's when run by hand, its schedule's or trigger's when fired

    def step(self, key: str) -> StepRun:
        """The step run named ``key`` (KeyError if the pipeline has no such step)."""
        for item in self.steps:
            if item.key == key:
                return item
        raise KeyError(key)

    @property
    def executed(self) -> list[str]:
        """Keys of the steps that actually ran (not cached, not skipped)."""
        return [s.key for s in self.steps if s.status in ("SUCCEEDED", "FAILED") and not s.cached]

    @property
    def cached(self) -> list[str]:
        return [s.key for s in self.steps if s.cached]


@record
class StepPlan:
    """A node of the DAG as the backend stores it when a run is created."""

    key: str
    step: str
    upstream: list[str]


@record
class StepUpdate:
    """A change to a step run reported by the executor; ``None`` fields are left alone.

    ``cache_ttl_s`` asks the backend to store ``outputs`` in the step cache under ``cache_key``
    (0 = forever, negative = do not cache). ``lineage`` lists ``[kind, id, relation]`` edges
    between the pipeline run and what the step touched.
    """

    key: str
    status: str
    cache_key: str | None = None
    cached: bool = False
    attempts: int | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    outputs: dict[str, dict[str, Any]] | None = None
    logs_digest: str | None = None
    error: str | None = None
    traceback: str | None = None
    details: dict[str, Any] | None = None
    cache_ttl_s: float = -1.0
    lineage: list[list[str]] | None = None


@record
class Schedule:
    """A cron schedule. ``pipeline`` is the stored reference the scheduler runs
    (``stored:<source digest>:<name>``); ``origin`` is what the user gave, for display.
    ``next_fire_ms`` is the next time it fires (None while disabled)."""

    id: str
    name: str
    pipeline: str
    params: dict[str, Any]
    cron: str
    runner: str
    catchup: bool
    enabled: bool
    created_by: str
    created_ms: int
    origin: str | None = None
    source_digest: str | None = None
    updated_ms: int | None = None
    next_fire_ms: int | None = None
    project: str = "default"


@record
class Trigger:
    id: str
    name: str
    kind: str  # dataset | alert
    target: str
    pipeline: str
    params: dict[str, Any]
    param: str
    runner: str
    baseline: int | None
    enabled: bool
    created_by: str
    created_ms: int
    origin: str | None = None
    source_digest: str | None = None
    updated_ms: int | None = None
    project: str = "default"


@record
class Firing:
    source_id: str
    source_kind: str
    event: str
    run_id: str
    created_ms: int
