"""Turning pipeline rows into records, and JSON columns back into values."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.pipelines.records import Firing, PipelineRun, Schedule, StepRun, Trigger
from slipway.store.schema.pipelines import pipeline_runs, pipeline_step_runs


def to_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def from_json(text: str | None, default: Any = None) -> Any:
    return orjson.loads(text) if text else default


def row_to_step(row: Any) -> StepRun:
    return StepRun(
        row.id, row.key, row.step, row.position, from_json(row.upstream, []), row.status, row.cache_key,
        bool(row.cached), row.attempts, row.start_ms, row.end_ms, from_json(row.outputs, {}), row.logs_digest,
        row.error, row.traceback, from_json(row.details, {}),
    )


def load_run(conn: Connection, run_id: str) -> PipelineRun | None:
    row = conn.execute(select(pipeline_runs).where(pipeline_runs.c.id == run_id)).first()
    if row is None:
        return None
    steps = conn.execute(
        select(pipeline_step_runs).where(pipeline_step_runs.c.run_id == run_id).order_by(pipeline_step_runs.c.position)
    ).all()
    return row_to_run(row, [row_to_step(s) for s in steps])


def row_to_run(row: Any, steps: list[StepRun]) -> PipelineRun:
    return PipelineRun(
        row.id, row.pipeline, row.source, row.status, row.runner, from_json(row.params, {}),
        from_json(row.reason, {}), row.resumed_from, row.user, row.created_ms, row.start_ms, row.end_ms,
        row.error, steps, row.heartbeat_ms, row.project,
    )


def row_to_schedule(row: Any, next_fire_ms: int | None = None) -> Schedule:
    return Schedule(row.id, row.name, row.pipeline, from_json(row.params, {}), row.cron, row.runner,
                    bool(row.catchup), bool(row.enabled), row.created_by, row.created_ms, row.origin,
                    row.source_digest, row.updated_ms, next_fire_ms, row.project)


def row_to_trigger(row: Any) -> Trigger:
    return Trigger(row.id, row.name, row.kind, row.target, row.pipeline, from_json(row.params, {}), row.param,
                   row.runner, row.baseline, bool(row.enabled), row.created_by, row.created_ms, row.origin,
                   row.source_digest, row.updated_ms, row.project)


def row_to_firing(row: Any) -> Firing:
    return Firing(row.source_id, row.source_kind, row.event, row.run_id, row.created_ms)


def pipeline_run_exists(conn: Connection, run_id: str) -> bool:
    return conn.execute(select(pipeline_runs.c.id).where(pipeline_runs.c.id == run_id).limit(1)).first() is not None
