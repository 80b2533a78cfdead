"""What the feature store returns: definitions, plans, materialisations, online lookups."""

from __future__ import annotations

from typing import Any

from slipway.core.records import record


@record
class FeatureDefinition:
    """One version of a definition; ``current`` is False for older versions and removed ones."""

    kind: str
    name: str
    version: int
    spec: dict[str, Any]
    current: bool
    created_by: str
    created_ms: int
    updated_ms: int
    removed_ms: int | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


@record
class PlanChange:
    """``action``: add, new_version (an incompatible change), update (owner, tags or description
    only: same version), remove (with prune), unchanged, or kept (in the store, not in the folder)."""

    kind: str
    name: str
    action: str
    version: int | None  # the version after the change (None for remove and kept)
    previous: int | None
    fields: list[str]


@record
class FeaturePlan:
    changes: list[PlanChange]
    applied: bool

    @property
    def pending(self) -> list[PlanChange]:
        """The changes that do something (not unchanged or kept)."""
        return [c for c in self.changes if c.action not in ("unchanged", "kept")]


@record
class Materialization:
    """One materialisation run of a view: the event-time window ``(start_ms, end_ms]`` and the
    keys it wrote; ``resumed`` when it continued a run that had been interrupted, whose attempt
    had written ``resumed_after`` of the ``rows`` (the rest were written after its last key).
    ``total_rows`` counts every run of this view version."""

    view: str
    view_version: int
    start_ms: int | None
    end_ms: int
    rows: int
    total_rows: int
    max_event_ms: int | None
    resumed: bool
    resumed_after: int = 0
    profile_digest: str | None = None  # the data profile of what this run wrote (a blob)


@record
class ViewStatus:
    """A feature view and how fresh its online values are (``stale``: its newest online value is
    older than its TTL, or it was never materialised)."""

    name: str
    version: int
    entities: list[str]
    features: int
    ttl_seconds: int | None
    owner: str
    watermark_ms: int | None
    max_event_ms: int | None
    last_run_ms: int | None
    stale: bool
    schedule: str | None = None  # cron: when ``slipway scheduler`` materialises it


@record
class OnlineFeatures:
    """Online values for a list of entities: per feature, one value and one status per entity
    (``present``, ``missing``: never written, ``expired``: older than the view's TTL)."""

    entities: list[dict[str, Any]]
    features: list[str]
    values: dict[str, list[Any]]
    status: dict[str, list[str]]

    def to_dict(self) -> dict[str, list[Any]]:
        """Columns: the entity keys, then each feature's values."""
        keys = {k: [e.get(k) for e in self.entities] for k in (self.entities[0] if self.entities else {})}
        return {**keys, **self.values}

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.to_dict())
