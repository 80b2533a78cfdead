"""Schedules, triggers and their firings (the half of the pipelines backend the scheduler uses).

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
from slipway.core.errors import AlreadyExists, InvalidInput, NotFound
from slipway.core.ids import new_id
from slipway.core.names import check_name
from slipway.pipelines.records import Firing, PipelineRun, Schedule, Trigger
from slipway.pipelines.rows import row_to_firing, row_to_schedule, row_to_trigger, to_json
from slipway.store.context import ServiceContext
from slipway.store.schema.pipelines import pipeline_firings, pipeline_schedules, pipeline_triggers

TRIGGER_KINDS = ("dataset", "alert")


def check_cron(expression: str) -> str:
    from croniter import croniter

    if not isinstance(expression, str) or not croniter.is_valid(expression):
        raise InvalidInput(f"not a cron expression: {expression!r} (e.g. '0 3 * * *' for 03:00 every day)")
    return expression


def check_pipeline_ref(ref: str) -> str:
    if not isinstance(ref, str) or ":" not in ref or not ref.rpartition(":")[2].isidentifier():
        raise InvalidInput(f"pipeline reference {ref!r} must be 'path/to/file.py:name' or 'package.module:name'")
    return ref


class EventsMixin(ABC):
    ctx: ServiceContext

    # provided by PipelineBackend
    @abstractmethod
    def _insert_run(self, conn: Connection, pipeline: str, source: str, runner: str, params: dict[str, Any],
                    steps: list[Any], reason: dict[str, Any], resumed_from: str | None, status: str) -> str:
        ...

    @abstractmethod
    def _load(self, conn: Connection, run_id: str) -> PipelineRun:
        ...

    # -- schedules -----------------------------------------------------------------------------
    @endpoint("pipelines.run")
    def create_schedule(self, name: str, pipeline: str, cron: str, params: dict[str, Any] | None = None,
                        runner: str = "inprocess", catchup: bool = False) -> Schedule:
        """Run ``pipeline`` at every time ``cron`` matches (UTC). With ``catchup`` every firing missed
        while no scheduler ran is run; without it only the latest missed one."""
        from slipway.pipelines.backend import check_json, check_runner

        check_name(name, "schedule name")
        check_pipeline_ref(pipeline)
        check_cron(cron)
        check_runner(runner)
        schedule_id = new_id()
        row: dict[str, Any] = {"id": schedule_id, "name": name, "pipeline": pipeline, "params": check_json(params or {}, "params"),
               "cron": cron, "runner": runner, "catchup": bool(catchup), "enabled": True,
               "created_by": self.ctx.principal.name, "created_ms": now_ms()}
        with self.ctx.db.write() as conn:
            if conn.execute(select(pipeline_schedules.c.id).where(pipeline_schedules.c.name == name)).first():
                raise AlreadyExists(f"schedule {name!r} already exists")
            conn.execute(pipeline_schedules.insert().values(**row))
            self.ctx.audit(conn, "pipeline.schedule.create", "pipeline_schedule", schedule_id,
                           {"name": name, "pipeline": pipeline, "cron": cron})
        return row_to_schedule(_Row(row))

    @endpoint("read")
    def list_schedules(self) -> list[Schedule]:
        with self.ctx.db.read() as conn:
            return [row_to_schedule(r) for r in conn.execute(select(pipeline_schedules).order_by(pipeline_schedules.c.name))]

    @endpoint("pipelines.run")
    def delete_schedule(self, name: str) -> Schedule:
        return row_to_schedule(self._delete_named(pipeline_schedules, name, "schedule"))

    # -- triggers ------------------------------------------------------------------------------
    @endpoint("pipelines.run")
    def create_trigger(self, name: str, kind: str, target: str, pipeline: str, params: dict[str, Any] | None = None,
                       param: str = "dataset", runner: str = "inprocess", baseline: int | None = None) -> Trigger:
        """Run ``pipeline`` on each new version of dataset ``target`` (kind ``dataset``), or on each
        alert of monitor ``target`` (kind ``alert``). The event ("name@version" or the alert id) is
        passed as pipeline parameter ``param``; dataset versions up to ``baseline`` never fire."""
        from slipway.pipelines.backend import check_json, check_runner

        check_name(name, "trigger name")
        if kind not in TRIGGER_KINDS:
            raise InvalidInput(f"trigger kind must be one of {', '.join(TRIGGER_KINDS)}, not {kind!r}")
        check_name(target, f"{kind} name")
        check_pipeline_ref(pipeline)
        check_runner(runner)
        if not isinstance(param, str) or not param.isidentifier():
            raise InvalidInput(f"trigger parameter must be a Python identifier, not {param!r}")
        if baseline is not None and (isinstance(baseline, bool) or not isinstance(baseline, int) or baseline < 0):
            raise InvalidInput(f"baseline must be a dataset version number, not {baseline!r}")
        trigger_id = new_id()
        row: dict[str, Any] = {"id": trigger_id, "name": name, "kind": kind, "target": target, "pipeline": pipeline,
               "params": check_json(params or {}, "params"), "param": param, "runner": runner, "baseline": baseline,
               "enabled": True, "created_by": self.ctx.principal.name, "created_ms": now_ms()}
        with self.ctx.db.write() as conn:
            if conn.execute(select(pipeline_triggers.c.id).where(pipeline_triggers.c.name == name)).first():
                raise AlreadyExists(f"trigger {name!r} already exists")
            conn.execute(pipeline_triggers.insert().values(**row))
            self.ctx.audit(conn, "pipeline.trigger.create", "pipeline_trigger", trigger_id,
                           {"name": name, "kind": kind, "target": target, "pipeline": pipeline})
        return row_to_trigger(_Row(row))

    @endpoint("read")
    def list_triggers(self, kind: str | None = None, target: str | None = None) -> list[Trigger]:
        query = select(pipeline_triggers)
        if kind:
            query = query.where(pipeline_triggers.c.kind == kind)
        if target:
            query = query.where(pipeline_triggers.c.target == target)
        with self.ctx.db.read() as conn:
            return [row_to_trigger(r) for r in conn.execute(query.order_by(pipeline_triggers.c.name))]

    @endpoint("pipelines.run")
    def delete_trigger(self, name: str) -> Trigger:
        return row_to_trigger(self._delete_named(pipeline_triggers, name, "trigger"))

    def _delete_named(self, table: Any, name: str, noun: str) -> Any:
        """Delete the schedule or trigger called ``name`` (audited); returns its row."""
        with self.ctx.db.write() as conn:
            row = conn.execute(select(table).where(table.c.name == name)).first()
            if row is None:
                raise NotFound(f"{noun} {name!r} does not exist")
            conn.execute(table.delete().where(table.c.id == row.id))
            self.ctx.audit(conn, f"pipeline.{noun}.delete", f"pipeline_{noun}", row.id, {"name": name})
            return row

    # -- firings -------------------------------------------------------------------------------
    @endpoint("pipelines.run")
    def claim_firing(self, source_id: str, event: str, pipeline_name: str) -> PipelineRun | None:
        """Queue the run of one firing of a schedule or trigger, exactly once.

        Returns the QUEUED run, or None when this ``(source_id, event)`` was already claimed.
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
                params = dict(source.params)
                reason: dict[str, Any] = {"kind": source_kind, "name": source.name, "event": event}
                if isinstance(source, Trigger):
                    params[source.param] = event
                    reason["trigger_kind"] = source.kind
                    reason["target"] = source.target
                run_id = self._insert_run(conn, pipeline_name, source.pipeline, source.runner, params, [], reason,
                                          None, "QUEUED")
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
        query = select(pipeline_firings)
        if source_id:
            query = query.where(pipeline_firings.c.source_id == source_id)
        query = query.order_by(pipeline_firings.c.created_ms.desc(), pipeline_firings.c.event.desc())
        with self.ctx.db.read() as conn:
            return [row_to_firing(r) for r in conn.execute(query.limit(max(1, min(limit, 10_000))))]


class _Row:
    """A dict seen as a row, so a record is built the same way from what was just inserted."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


__all__ = ["EventsMixin", "check_cron", "check_pipeline_ref", "to_json"]
