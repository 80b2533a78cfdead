"""Firings of schedules and triggers: each claimed exactly once, with the QUEUED run it starts.

A firing is claimed by inserting its ``(source_id, event)`` row in the same transaction as the
QUEUED pipeline run it starts; the primary key makes a second claim fail, so two schedulers, or
one restarted mid-tick, never start the same firing twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput, NotFound
from slipway.core.names import check_name
from slipway.pipelines.records import Firing, PipelineRun, Schedule, Trigger
from slipway.pipelines.rows import row_to_firing, row_to_schedule, row_to_trigger
from slipway.store.context import ServiceContext
from slipway.store.projects import readable
from slipway.store.schema.pipelines import (
    pipeline_firings,
    pipeline_runs,
    pipeline_schedules,
    pipeline_triggers,
)


class FiringsMixin(ABC):
    ctx: ServiceContext

    # provided by PipelineBackend
    @abstractmethod
    def _insert_run(self, conn: Connection, pipeline: str, source: str, runner: str, params: dict[str, Any],
                    steps: list[Any], reason: dict[str, Any], resumed_from: str | None, status: str,
                    project: str) -> str:
        ...

    @abstractmethod
    def _load(self, conn: Connection, run_id: str) -> PipelineRun:
        ...

    @endpoint("pipelines.run")
    def claim_firing(self, source_id: str, event: str, pipeline_name: str) -> PipelineRun | None:
        """Queue the run of one firing of a schedule or trigger, exactly once.

        Returns the QUEUED run, or None when this ``(source_id, event)`` was already claimed or
        the schedule or trigger is disabled.
        """
        if not isinstance(event, str) or not event or len(event) > 300:
            raise InvalidInput(f"firing event must be a non-empty string of at most 300 characters, got {event!r}")
        check_name(pipeline_name, "pipeline name")
        try:
            with self.ctx.db.write() as conn:
                if conn.execute(select(pipeline_firings.c.run_id).where(
                        pipeline_firings.c.source_id == source_id, pipeline_firings.c.event == event)).first():
                    return None
                source_kind, source = self._firing_source(conn, source_id)
                if not source.enabled:
                    return None
                params = dict(source.params)
                reason: dict[str, Any] = {"kind": source_kind, "name": source.name, "event": event}
                if isinstance(source, Trigger):
                    params[source.param] = event
                    reason["trigger_kind"] = source.kind
                    reason["target"] = source.target
                run_id = self._insert_run(conn, pipeline_name, source.pipeline, source.runner, params, [], reason,
                                          None, "QUEUED", source.project)
                conn.execute(pipeline_firings.insert().values(
                    source_id=source_id, event=event, source_kind=source_kind, run_id=run_id, created_ms=now_ms()))
                return self._load(conn, run_id)
        except SqlIntegrityError:
            return None  # another scheduler claimed it between our check and our insert

    def _firing_source(self, conn: Connection, source_id: str) -> tuple[str, Schedule | Trigger]:
        row = conn.execute(select(pipeline_schedules).where(pipeline_schedules.c.id == source_id)).first()
        if row is not None:
            return "schedule", row_to_schedule(row)
        row = conn.execute(select(pipeline_triggers).where(pipeline_triggers.c.id == source_id)).first()
        if row is not None:
            return "trigger", row_to_trigger(row)
        raise NotFound(f"no schedule or trigger has id {source_id!r}")

    @endpoint("read")
    def list_firings(self, source_id: str | None = None, limit: int = 100) -> list[Firing]:
        """Firings newest event first (events of one source sort by time: ISO times, versions)."""
        query = select(pipeline_firings).join(pipeline_runs, pipeline_runs.c.id == pipeline_firings.c.run_id)
        query = readable(self.ctx.principal, query, pipeline_runs.c.project)
        if source_id:
            query = query.where(pipeline_firings.c.source_id == source_id)
        query = query.order_by(pipeline_firings.c.created_ms.desc(), pipeline_firings.c.event.desc())
        with self.ctx.db.read() as conn:
            return [row_to_firing(r) for r in conn.execute(query.limit(max(1, min(limit, 10_000))))]
