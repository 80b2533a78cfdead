"""Schedules and triggers (the half of the pipelines backend the scheduler uses).

A schedule or trigger names its pipeline only as a stored source (``stored:<digest>:<name>``, see
:mod:`slipway.pipelines.sources`): a caller can never make the scheduler load a file of the
scheduler's host. Names are unique across schedules and triggers, so ``enable``, ``disable`` and
``delete`` need only the name. Firings are in :mod:`slipway.pipelines.backend_firings`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, select

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms, parse_time
from slipway.core.errors import AlreadyExists, InvalidInput, NotFound
from slipway.core.events import Action, Subject
from slipway.core.ids import new_id
from slipway.core.names import check_name
from slipway.pipelines.backend_firings import FiringsMixin
from slipway.pipelines.cron import check_cron, next_fire_time
from slipway.pipelines.records import Schedule, Trigger
from slipway.pipelines.rows import row_to_schedule, row_to_trigger, to_json
from slipway.pipelines.sources import check_stored_ref
from slipway.store.projects import owning_project, readable
from slipway.store.schema.pipelines import pipeline_firings, pipeline_schedules, pipeline_triggers

TRIGGER_KINDS = ("dataset", "alert")


def check_pipeline_ref(ref: str) -> str:
    """Shape check of a pipeline reference a user types (``file.py:name`` or ``module:name``)."""
    if not isinstance(ref, str) or ":" not in ref or not ref.rpartition(":")[2].isidentifier():
        raise InvalidInput(f"pipeline reference {ref!r} must be 'path/to/file.py:name' or 'package.module:name'")
    return ref


def _check_origin(origin: str | None) -> str | None:
    if origin is not None and (not isinstance(origin, str) or len(origin) > 500):
        raise InvalidInput(f"origin must be a string of at most 500 characters, got {str(origin)[:100]!r}")
    return origin


def _check_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be true or false, got {value!r}")
    return value


class EventsMixin(FiringsMixin):
    # -- schedules -----------------------------------------------------------------------------
    @endpoint("pipelines.run")
    def create_schedule(self, name: str, pipeline: str, cron: str, params: dict[str, Any] | None = None,
                        runner: str = "inprocess", catchup: bool = False, origin: str | None = None,
                        project: str | None = None) -> Schedule:
        """Run the stored ``pipeline`` at every time ``cron`` matches (UTC). With ``catchup`` every
        firing missed while no scheduler ran is run; without it only the latest missed one. Its
        runs belong to ``project`` (default: the workspace's)."""
        from slipway.pipelines.backend import check_json, check_runner

        check_name(name, "schedule name")
        digest = check_stored_ref(pipeline, self.ctx.blobs)
        row: dict[str, Any] = {
            "id": new_id(), "name": name, "pipeline": pipeline, "params": check_json(params or {}, "params"),
            "cron": check_cron(cron), "runner": check_runner(runner), "catchup": _check_bool(catchup, "catchup"),
            "enabled": True, "created_by": self.ctx.principal.name, "created_ms": now_ms(),
            "origin": _check_origin(origin), "source_digest": digest, "updated_ms": None}
        with self.ctx.db.write() as conn:
            self._check_free(conn, name)
            row["project"] = owning_project(conn, project, self.ctx.settings.project)
            conn.execute(pipeline_schedules.insert().values(**row))
            self.ctx.audit(conn, Action.PIPELINE_SCHEDULE_CREATE, Subject.PIPELINE_SCHEDULE, row["id"],
                           {"name": name, "pipeline": pipeline, "origin": origin, "cron": cron})
            return self._schedule(conn, name)

    @endpoint("pipelines.run")
    def update_schedule(self, name: str, pipeline: str | None = None, cron: str | None = None,
                        params: dict[str, Any] | None = None, runner: str | None = None, catchup: bool | None = None,
                        origin: str | None = None) -> Schedule:
        """Change what is given (``params`` replaces all parameters); fire times up to now never fire."""
        from slipway.pipelines.backend import check_json, check_runner

        values: dict[str, Any] = {}
        if pipeline is not None:
            values.update(pipeline=pipeline, source_digest=check_stored_ref(pipeline, self.ctx.blobs),
                          origin=_check_origin(origin))
        if cron is not None:
            values["cron"] = check_cron(cron)
        if params is not None:
            values["params"] = check_json(params, "params")
        if runner is not None:
            values["runner"] = check_runner(runner)
        if catchup is not None:
            values["catchup"] = _check_bool(catchup, "catchup")
        return self._updated_schedule(name, values)

    @endpoint("pipelines.run")
    def set_schedule_enabled(self, name: str, enabled: bool) -> Schedule:
        """Disable or enable a schedule; re-enabled, it fires only at times after now."""
        return self._updated_schedule(name, {"enabled": _check_bool(enabled, "enabled")})

    def _updated_schedule(self, name: str, values: dict[str, Any]) -> Schedule:
        row = self._update_named(pipeline_schedules, name, "schedule", values)
        with self.ctx.db.read() as conn:
            return self._with_next_fire(conn, row)

    @endpoint("read")
    def list_schedules(self) -> list[Schedule]:
        """Schedules by name, each with its next fire time."""
        with self.ctx.db.read() as conn:
            query = readable(self.ctx.principal, select(pipeline_schedules), pipeline_schedules.c.project)
            rows = conn.execute(query.order_by(pipeline_schedules.c.name)).all()
            return [self._with_next_fire(conn, row) for row in rows]

    @endpoint("pipelines.run")
    def delete_schedule(self, name: str) -> Schedule:
        return row_to_schedule(self._delete_named(pipeline_schedules, name, "schedule"))

    # -- triggers ------------------------------------------------------------------------------
    @endpoint("pipelines.run")
    def create_trigger(self, name: str, kind: str, target: str, pipeline: str, params: dict[str, Any] | None = None,
                       param: str = "dataset", runner: str = "inprocess", baseline: int | None = None,
                       origin: str | None = None, project: str | None = None) -> Trigger:
        """Run the stored ``pipeline`` on each new version of dataset ``target`` (kind ``dataset``),
        or on each alert of monitor ``target`` (kind ``alert``). The event ("name@version" or the
        alert id) is passed as pipeline parameter ``param``; dataset versions up to ``baseline``
        never fire. Its runs belong to ``project`` (default: the workspace's)."""
        from slipway.pipelines.backend import check_json, check_runner

        check_name(name, "trigger name")
        if kind not in TRIGGER_KINDS:
            raise InvalidInput(f"trigger kind must be one of {', '.join(TRIGGER_KINDS)}, not {kind!r}")
        check_name(target, f"{kind} name")
        row: dict[str, Any] = {
            "id": new_id(), "name": name, "kind": kind, "target": target, "pipeline": pipeline,
            "source_digest": check_stored_ref(pipeline, self.ctx.blobs), "params": check_json(params or {}, "params"),
            "param": _check_param(param), "runner": check_runner(runner), "baseline": _check_baseline(baseline),
            "enabled": True, "created_by": self.ctx.principal.name, "created_ms": now_ms(),
            "origin": _check_origin(origin), "updated_ms": None}
        with self.ctx.db.write() as conn:
            self._check_free(conn, name)
            row["project"] = owning_project(conn, project, self.ctx.settings.project)
            conn.execute(pipeline_triggers.insert().values(**row))
            self.ctx.audit(conn, Action.PIPELINE_TRIGGER_CREATE, Subject.PIPELINE_TRIGGER, row["id"],
                           {"name": name, "kind": kind, "target": target, "pipeline": pipeline, "origin": origin})
            return row_to_trigger(conn.execute(select(pipeline_triggers).where(pipeline_triggers.c.id == row["id"])).one())

    @endpoint("pipelines.run")
    def update_trigger(self, name: str, pipeline: str | None = None, params: dict[str, Any] | None = None,
                       param: str | None = None, runner: str | None = None, origin: str | None = None) -> Trigger:
        """Change what is given (``params`` replaces all parameters)."""
        from slipway.pipelines.backend import check_json, check_runner

        values: dict[str, Any] = {}
        if pipeline is not None:
            values.update(pipeline=pipeline, source_digest=check_stored_ref(pipeline, self.ctx.blobs),
                          origin=_check_origin(origin))
        if params is not None:
            values["params"] = check_json(params, "params")
        if param is not None:
            values["param"] = _check_param(param)
        if runner is not None:
            values["runner"] = check_runner(runner)
        return row_to_trigger(self._update_named(pipeline_triggers, name, "trigger", values))

    @endpoint("pipelines.run")
    def set_trigger_enabled(self, name: str, enabled: bool, baseline: int | None = None) -> Trigger:
        """Disable or enable a trigger; re-enabled with ``baseline``, dataset versions up to it
        (those added while it was disabled) never fire."""
        values: dict[str, Any] = {"enabled": _check_bool(enabled, "enabled")}
        if baseline is not None:
            values["baseline"] = _check_baseline(baseline)
        return row_to_trigger(self._update_named(pipeline_triggers, name, "trigger", values))

    @endpoint("read")
    def list_triggers(self, kind: str | None = None, target: str | None = None) -> list[Trigger]:
        query = readable(self.ctx.principal, select(pipeline_triggers), pipeline_triggers.c.project)
        if kind:
            query = query.where(pipeline_triggers.c.kind == kind)
        if target:
            query = query.where(pipeline_triggers.c.target == target)
        with self.ctx.db.read() as conn:
            return [row_to_trigger(r) for r in conn.execute(query.order_by(pipeline_triggers.c.name))]

    @endpoint("pipelines.run")
    def delete_trigger(self, name: str) -> Trigger:
        return row_to_trigger(self._delete_named(pipeline_triggers, name, "trigger"))

    # -- shared --------------------------------------------------------------------------------
    def _schedule(self, conn: Connection, name: str) -> Schedule:
        return self._with_next_fire(conn, conn.execute(select(pipeline_schedules)
                                                       .where(pipeline_schedules.c.name == name)).one())

    def _with_next_fire(self, conn: Connection, row: Any) -> Schedule:
        """The schedule of ``row`` with its next fire time, from its newest firing."""
        last = conn.execute(select(pipeline_firings.c.event).where(pipeline_firings.c.source_id == row.id)
                            .order_by(pipeline_firings.c.created_ms.desc(), pipeline_firings.c.event.desc())
                            .limit(1)).scalar()
        return row_to_schedule(row, next_fire_time(row_to_schedule(row), parse_time(last) if last else None, now_ms()))

    def _check_free(self, conn: Connection, name: str) -> None:
        for table, noun in ((pipeline_schedules, "schedule"), (pipeline_triggers, "trigger")):
            if conn.execute(select(table.c.id).where(table.c.name == name)).first():
                raise AlreadyExists(f"a {noun} named {name!r} already exists (names are shared by schedules and triggers)")

    def _update_named(self, table: Table, name: str, noun: str, values: dict[str, Any]) -> Any:
        """Apply ``values`` to the schedule or trigger called ``name`` (audited); returns its new row.

        ``updated_ms`` moves to now, so a schedule never fires for a time before the change."""
        if not isinstance(name, str):
            raise InvalidInput(f"{noun} name must be a string, got {name!r}")
        with self.ctx.db.write() as conn:
            row = conn.execute(select(table).where(table.c.name == name)).first()
            if row is None:
                raise NotFound(f"{noun} {name!r} does not exist")
            conn.execute(table.update().where(table.c.id == row.id).values(**values, updated_ms=now_ms()))
            details = {k: v for k, v in values.items() if k not in ("params", "source_digest")}
            if "params" in values:
                details["params"] = values["params"]
            action = {True: "enable", False: "disable"}.get(values["enabled"]) if set(values) == {"enabled"} else None
            self.ctx.audit(conn, Action(f"pipeline.{noun}.{action or 'update'}"), Subject(f"pipeline_{noun}"), row.id,
                           {"name": name, **details})
            return conn.execute(select(table).where(table.c.id == row.id)).one()

    def _delete_named(self, table: Table, name: str, noun: str) -> Any:
        """Delete the schedule or trigger called ``name`` (audited); returns its row."""
        with self.ctx.db.write() as conn:
            row = conn.execute(select(table).where(table.c.name == name)).first()
            if row is None:
                raise NotFound(f"{noun} {name!r} does not exist")
            conn.execute(table.delete().where(table.c.id == row.id))
            self.ctx.audit(conn, Action(f"pipeline.{noun}.delete"), Subject(f"pipeline_{noun}"), row.id, {"name": name})
            return row


def _check_param(param: str) -> str:
    if not isinstance(param, str) or not param.isidentifier():
        raise InvalidInput(f"trigger parameter must be a Python identifier, not {param!r}")
    return param


def _check_baseline(baseline: int | None) -> int | None:
    if baseline is not None and (isinstance(baseline, bool) or not isinstance(baseline, int) or baseline < 0):
        raise InvalidInput(f"baseline must be a dataset version number, not {baseline!r}")
    return baseline


__all__ = ["EventsMixin", "check_cron", "check_pipeline_ref", "to_json"]
