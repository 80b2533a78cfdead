"""The pipelines backend: pipeline runs, step runs and the step cache as SQL transactions.

Execution happens in the caller (see :mod:`slipway.pipelines.executor`); this backend records
it, so the same executor works embedded and remote. Schedules and triggers are in
:mod:`slipway.pipelines.backend_events`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, or_, select

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput, NotFound
from slipway.core.events import Action, Subject
from slipway.core.hashing import check_digest
from slipway.core.ids import new_id
from slipway.core.names import check_name
from slipway.pipelines.backend_events import EventsMixin
from slipway.pipelines.backend_liveness import LivenessMixin
from slipway.pipelines.records import RUN_STATUSES, STEP_STATUSES, PipelineRun, StepPlan, StepUpdate
from slipway.pipelines.rows import from_json, load_run, row_to_run, row_to_step, to_json
from slipway.pipelines.sources import parse_stored
from slipway.store.context import ServiceContext
from slipway.store.edges import add_edge
from slipway.store.projects import (
    ProjectScope,
    dataset_project,
    monitor_project,
    owning_project,
    pipeline_run_project,
    readable,
    schedule_or_trigger_project,
    scoped_by,
)
from slipway.store.schema.pipelines import pipeline_cache, pipeline_runs, pipeline_step_runs
from slipway.store.upsert import upsert

RUNNERS = ("inprocess", "process", "ray", "kubeflow", "argo")
# Runs orchestrated outside Slipway (a compiled Kubeflow or Argo pipeline): each step is its own
# pod, so no process beats for the run between steps and liveness is the orchestrator's business.
EXTERNAL_RUNNERS = ("kubeflow", "argo")


def check_runner(runner: str) -> str:
    if runner not in RUNNERS:
        raise InvalidInput(f"unknown runner {runner!r}; use one of {', '.join(RUNNERS)}")
    return runner


def _source_digest(source: str) -> str | None:
    stored = parse_stored(source)
    return stored[0] if stored else None


def check_json(value: Any, what: str) -> str:
    try:
        return to_json(value)
    except TypeError as err:
        raise InvalidInput(f"{what} must be JSON-able: {err}") from err


def _new_object(conn: Connection, value: Any) -> set[str]:
    """Names no stored object: the call makes one, in its ``project`` (or the workspace's)."""
    return set()


def _trigger_target(conn: Connection, arguments: dict[str, Any]) -> set[str]:
    """A new trigger acts in the project of the dataset or monitor it watches too."""
    kind, target = arguments.get("kind"), arguments.get("target")
    resolve = {"dataset": dataset_project, "alert": monitor_project}.get(kind) if isinstance(kind, str) else None
    return resolve(conn, target) if resolve is not None else set()


# A project-scoped principal's call is authorised in the project of the run, schedule or trigger
# it names (a new run in its ``project``, the workspace's or, resumed, its first run's; a trigger
# also in its dataset's or monitor's); listings, the cache look-ups included, show what it may
# read. The scheduler's lease, recovering every stale run and clearing the cache need a global role.
PIPELINES_SCOPE = ProjectScope(
    {"run_id": pipeline_run_project, "name": schedule_or_trigger_project, "source_id": schedule_or_trigger_project},
    listings=frozenset({"list_runs", "list_schedules", "list_triggers", "list_firings", "lookup_cache",
                        "cache_entries"}),
    extra=_trigger_target,
    methods={"create_run": {"pipeline": _new_object, "resumed_from": pipeline_run_project}},
)


class PipelineBackend(EventsMixin, LivenessMixin):
    _projects_of = scoped_by(PIPELINES_SCOPE)

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- runs ----------------------------------------------------------------------------------
    def _insert_run(self, conn: Connection, pipeline: str, source: str, runner: str, params: dict[str, Any],
                    steps: list[StepPlan], reason: dict[str, Any], resumed_from: str | None, status: str,
                    project: str) -> str:
        run_id = new_id()
        created = now_ms()
        conn.execute(pipeline_runs.insert().values(
            id=run_id, pipeline=pipeline, source=source[:500], status=status, runner=runner,
            params=check_json(params, "params"), reason=check_json(reason, "reason"), resumed_from=resumed_from,
            user=self.ctx.principal.name, created_ms=created, start_ms=created if status == "RUNNING" else None,
            heartbeat_ms=created if status == "RUNNING" else None, source_digest=_source_digest(source),
            project=project,
        ))
        if steps:
            conn.execute(pipeline_step_runs.insert(), [
                {"id": new_id(), "run_id": run_id, "position": i, "key": s.key, "step": s.step,
                 "upstream": to_json(list(s.upstream)), "status": "PENDING", "cached": False, "attempts": 0,
                 "outputs": "{}", "details": "{}"}
                for i, s in enumerate(steps)
            ])
        self.ctx.audit(conn, Action.PIPELINE_RUN_CREATE, Subject.PIPELINE_RUN, run_id,
                       {"pipeline": pipeline, "runner": runner, "reason": reason, "resumed_from": resumed_from})
        return run_id

    @endpoint("pipelines.run")
    def create_run(self, pipeline: str, source: str, runner: str, params: dict[str, Any], steps: list[StepPlan],
                   reason: dict[str, Any] | None = None, resumed_from: str | None = None,
                   project: str | None = None) -> PipelineRun:
        """Record a new run (status RUNNING) with its steps PENDING, in DAG order, in ``project``
        (default: the resumed run's, or the workspace's)."""
        check_name(pipeline, "pipeline name")
        check_runner(runner)
        keys = [s.key for s in steps]
        if len(set(keys)) != len(keys):
            raise InvalidInput(f"pipeline {pipeline!r} has duplicate step keys")
        with self.ctx.db.write() as conn:
            first = self._run_row(conn, resumed_from).project if resumed_from is not None else None
            owner = owning_project(conn, project or first, self.ctx.settings.project)
            run_id = self._insert_run(conn, pipeline, source, runner, params, steps,
                                      reason or {"kind": "manual"}, resumed_from, "RUNNING", owner)
            return self._load(conn, run_id)

    @endpoint("pipelines.run")
    def claim_run(self, run_id: str, steps: list[StepPlan]) -> PipelineRun:
        """Start a QUEUED run (one a schedule or trigger created); Conflict if someone else did."""
        with self.ctx.db.write() as conn:
            row = self._run_row(conn, run_id)
            if row.status != "QUEUED":
                raise Conflict(f"pipeline run {run_id} is {row.status}, not QUEUED; it was already started")
            started = now_ms()
            conn.execute(pipeline_runs.update().where(pipeline_runs.c.id == run_id)
                         .values(status="RUNNING", start_ms=started, heartbeat_ms=started))
            conn.execute(pipeline_step_runs.delete().where(pipeline_step_runs.c.run_id == run_id))
            if steps:  # an empty executemany would insert one row of NULLs
                conn.execute(pipeline_step_runs.insert(), [
                    {"id": new_id(), "run_id": run_id, "position": i, "key": s.key, "step": s.step,
                     "upstream": to_json(list(s.upstream)), "status": "PENDING", "cached": False, "attempts": 0,
                     "outputs": "{}", "details": "{}"}
                    for i, s in enumerate(steps)
                ])
            self.ctx.audit(conn, Action.PIPELINE_RUN_START, Subject.PIPELINE_RUN, run_id, {"steps": len(steps)})
            return self._load(conn, run_id)

    @endpoint("pipelines.run")
    def update_steps(self, run_id: str, updates: list[StepUpdate]) -> int:
        """Apply step changes in one transaction, filling the step cache and lineage as asked."""
        for update in updates:
            if update.status not in STEP_STATUSES:
                raise InvalidInput(f"step status must be one of {', '.join(STEP_STATUSES)}, not {update.status!r}")
            for output in (update.outputs or {}).values():
                check_digest(output.get("digest", ""))
        with self.ctx.db.write() as conn:
            row = self._run_row(conn, run_id)
            if row.status != "RUNNING":
                raise Conflict(f"pipeline run {run_id} is {row.status}; its steps cannot change")
            known = {r.key: r for r in conn.execute(
                select(pipeline_step_runs).where(pipeline_step_runs.c.run_id == run_id,
                                                 pipeline_step_runs.c.key.in_([u.key for u in updates])))}
            cache_rows: list[dict[str, Any]] = []
            for update in updates:
                step_row = known.get(update.key)
                if step_row is None:
                    raise NotFound(f"pipeline run {run_id} has no step {update.key!r}")
                cache_rows.extend(self._apply(conn, run_id, step_row, update))
            upsert(conn, pipeline_cache, cache_rows, ["cache_key"], ["outputs", "step_run_id", "created_ms", "expires_ms"])
            conn.execute(pipeline_runs.update().where(pipeline_runs.c.id == run_id).values(heartbeat_ms=now_ms()))
            self.ctx.audit(conn, Action.PIPELINE_STEPS_UPDATE, Subject.PIPELINE_RUN, run_id,
                           {"steps": {u.key: u.status for u in updates}})
        return len(updates)

    def _apply(self, conn: Connection, run_id: str, step_row: Any, update: StepUpdate) -> list[dict[str, Any]]:
        """Update one step row; returns the cache entry to store, if any (stored in one batch)."""
        values: dict[str, Any] = {"status": update.status, "cached": bool(update.cached)}
        for name in ("cache_key", "attempts", "start_ms", "end_ms", "logs_digest", "error", "traceback"):
            value = getattr(update, name)
            if value is not None:
                values[name] = value
        if update.outputs is not None:
            values["outputs"] = to_json(update.outputs)
        if update.details is not None:
            values["details"] = to_json({**from_json(step_row.details, {}), **update.details})
        conn.execute(pipeline_step_runs.update().where(pipeline_step_runs.c.id == step_row.id).values(**values))
        for kind, ident, relation in update.lineage or []:
            if relation == "input_to":
                add_edge(conn, kind, ident, relation, "pipeline_run", run_id, {"step": update.key})
            else:
                add_edge(conn, "pipeline_run", run_id, relation, kind, ident, {"step": update.key})
        if update.cache_key and update.outputs is not None and update.cache_ttl_s >= 0 and not update.cached:
            created = now_ms()
            expires = created + int(update.cache_ttl_s * 1000) if update.cache_ttl_s > 0 else None
            return [{"cache_key": update.cache_key, "step": step_row.step, "outputs": to_json(update.outputs),
                     "step_run_id": step_row.id, "created_ms": created, "expires_ms": expires}]
        return []

    @endpoint("pipelines.run")
    def finish_run(self, run_id: str, status: str, error: str | None = None) -> PipelineRun:
        if status not in ("SUCCEEDED", "FAILED"):
            raise InvalidInput(f"a pipeline run ends as SUCCEEDED or FAILED, not {status!r}")
        with self.ctx.db.write() as conn:
            row = self._run_row(conn, run_id)
            if row.status not in ("RUNNING", "QUEUED"):
                raise Conflict(f"pipeline run {run_id} already ended as {row.status}")
            conn.execute(pipeline_runs.update().where(pipeline_runs.c.id == run_id)
                         .values(status=status, end_ms=now_ms(), error=error))
            self.ctx.audit(conn, Action.PIPELINE_RUN_FINISH, Subject.PIPELINE_RUN, run_id, {"status": status, "error": error})
            return self._load(conn, run_id)

    @endpoint("read")
    def get_run(self, run_id: str) -> PipelineRun:
        with self.ctx.db.read() as conn:
            return self._load(conn, run_id)

    @endpoint("read")
    def list_runs(self, pipeline: str | None = None, status: str | None = None, limit: int = 50) -> list[PipelineRun]:
        """Runs newest first, with their steps."""
        if status is not None and status not in RUN_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(RUN_STATUSES)}, not {status!r}")
        query = readable(self.ctx.principal, select(pipeline_runs), pipeline_runs.c.project)
        if pipeline:
            query = query.where(pipeline_runs.c.pipeline == pipeline)
        if status:
            query = query.where(pipeline_runs.c.status == status)
        query = query.order_by(pipeline_runs.c.created_ms.desc(), pipeline_runs.c.id.desc()).limit(max(1, min(limit, 1000)))
        with self.ctx.db.read() as conn:
            rows = conn.execute(query).all()
            steps: dict[str, list[Any]] = {r.id: [] for r in rows}
            if rows:
                for s in conn.execute(select(pipeline_step_runs).where(pipeline_step_runs.c.run_id.in_(list(steps)))
                                      .order_by(pipeline_step_runs.c.position)):
                    steps[s.run_id].append(row_to_step(s))
            return [row_to_run(r, steps[r.id]) for r in rows]

    # -- cache ---------------------------------------------------------------------------------
    @endpoint("read")
    def lookup_cache(self, cache_keys: list[str]) -> dict[str, dict[str, Any]]:
        """The stored outputs of each cache key that has an unexpired entry."""
        if not cache_keys:
            return {}
        now = now_ms()
        with self.ctx.db.read() as conn:
            rows = conn.execute(self._readable_cache().where(
                pipeline_cache.c.cache_key.in_(list(cache_keys)),
                or_(pipeline_cache.c.expires_ms.is_(None), pipeline_cache.c.expires_ms > now))).all()
        return {r.cache_key: from_json(r.outputs, {}) for r in rows}

    @endpoint("read")
    def cache_entries(self, steps: list[str], limit: int = 20_000) -> dict[str, dict[str, Any]] | None:
        """Every unexpired cache entry of the step names ``steps`` (key -> outputs), so a run looks
        its keys up without a round trip each; None when there are more than ``limit``."""
        if not steps:
            return {}
        now = now_ms()
        with self.ctx.db.read() as conn:
            rows = conn.execute(self._readable_cache().where(
                pipeline_cache.c.step.in_(list(steps)),
                or_(pipeline_cache.c.expires_ms.is_(None), pipeline_cache.c.expires_ms > now)).limit(limit + 1)).all()
        if len(rows) > limit:
            return None
        return {r.cache_key: from_json(r.outputs, {}) for r in rows}

    @endpoint("pipelines.run")
    def clear_cache(self, step: str | None = None) -> int:
        """Forget cached outputs (of one step name, or all); the blobs stay until garbage collection."""
        with self.ctx.db.write() as conn:
            query = pipeline_cache.delete()
            if step:
                query = query.where(pipeline_cache.c.step == step)
            count = conn.execute(query).rowcount
            self.ctx.audit(conn, Action.PIPELINE_CACHE_CLEAR, Subject.PIPELINE_CACHE, step or "*", {"entries": count})
        return int(count)

    # -- helpers -------------------------------------------------------------------------------
    def _readable_cache(self) -> Select[Any]:
        """Cache entries of step runs of projects the principal may read (every one for a global role)."""
        query = select(pipeline_cache.c.cache_key, pipeline_cache.c.outputs)
        if self.ctx.principal.projects_where("read") is None:
            return query
        query = (query.join(pipeline_step_runs, pipeline_step_runs.c.id == pipeline_cache.c.step_run_id)
                 .join(pipeline_runs, pipeline_runs.c.id == pipeline_step_runs.c.run_id))
        return readable(self.ctx.principal, query, pipeline_runs.c.project)

    def _run_row(self, conn: Connection, run_id: str) -> Any:
        if not isinstance(run_id, str) or not run_id:
            raise InvalidInput(f"pipeline run id must be a non-empty string, got {run_id!r}")
        row = conn.execute(select(pipeline_runs).where(pipeline_runs.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"pipeline run {run_id!r} does not exist")
        return row

    def _load(self, conn: Connection, run_id: str) -> PipelineRun:
        run = load_run(conn, run_id)
        if run is None:
            raise NotFound(f"pipeline run {run_id!r} does not exist")
        return run
