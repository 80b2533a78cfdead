"""Pipelines: runs, step runs, the step cache, schedules, triggers and their firings.

Step outputs are blobs; rows only hold their digests. A firing row is unique per
(schedule or trigger, event) and is inserted in the same transaction as the run it starts, so a
restarted or second scheduler can never start the same firing twice.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from slipway.store.schema.base import DIGEST, ID, NAME, id_column, metadata, ms_column, project_column

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    id_column(),
    Column("pipeline", NAME, nullable=False),
    Column("source", String(500), nullable=False),  # "path/file.py:name" or "package.module:name"
    Column("status", String(20), nullable=False),  # QUEUED | RUNNING | SUCCEEDED | FAILED
    Column("runner", String(20), nullable=False),
    Column("params", Text, nullable=False, default="{}"),  # JSON, resolved
    Column("reason", Text, nullable=False, default="{}"),  # JSON: why the run started
    Column("resumed_from", ID, nullable=True),
    Column("user", NAME, nullable=False),
    ms_column("created_ms"),
    ms_column("start_ms", nullable=True),
    ms_column("end_ms", nullable=True),
    ms_column("heartbeat_ms", nullable=True),  # last sign of life of the process executing it
    Column("source_digest", DIGEST, nullable=True),  # the stored pipeline source a scheduled run executes
    Column("error", Text, nullable=True),
    project_column(),  # the workspace's when run by hand, its schedule's or trigger's when fired
    Index("ix_pipeline_runs_pipeline_created", "pipeline", "created_ms"),
    Index("ix_pipeline_runs_status", "status"),
)

pipeline_step_runs = Table(
    "pipeline_step_runs",
    metadata,
    id_column(),
    Column("run_id", ID, ForeignKey("pipeline_runs.id"), nullable=False),
    Column("position", Integer, nullable=False),  # order in the pipeline's DAG (a topological order)
    Column("key", String(300), nullable=False),  # unique within the run: "train", "score[3]"
    Column("step", NAME, nullable=False),
    Column("upstream", Text, nullable=False, default="[]"),  # JSON list of keys
    Column("status", String(20), nullable=False),  # PENDING | RUNNING | SUCCEEDED | CACHED | FAILED | SKIPPED
    Column("cache_key", DIGEST, nullable=True),
    Column("cached", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=0),
    ms_column("start_ms", nullable=True),
    ms_column("end_ms", nullable=True),
    Column("outputs", Text, nullable=False, default="{}"),  # JSON {name: {digest, kind, size}}
    Column("logs_digest", DIGEST, nullable=True),
    Column("error", Text, nullable=True),
    Column("traceback", Text, nullable=True),
    Column("details", Text, nullable=False, default="{}"),  # JSON: gate verdicts, attempt errors, skip reason
    UniqueConstraint("run_id", "key", name="uq_pipeline_step_runs_run_key"),
)

pipeline_cache = Table(
    "pipeline_cache",
    metadata,
    Column("cache_key", DIGEST, primary_key=True),
    Column("step", NAME, nullable=False),
    Column("outputs", Text, nullable=False),
    Column("step_run_id", ID, nullable=False),
    ms_column("created_ms"),
    ms_column("expires_ms", nullable=True),
    Index("ix_pipeline_cache_step", "step"),
)

pipeline_schedules = Table(
    "pipeline_schedules",
    metadata,
    id_column(),
    Column("name", NAME, nullable=False, unique=True),
    Column("pipeline", String(500), nullable=False),  # "stored:<source digest>:<pipeline name>"
    Column("params", Text, nullable=False, default="{}"),
    Column("cron", String(100), nullable=False),
    Column("runner", String(20), nullable=False),
    Column("catchup", Boolean, nullable=False, default=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_by", NAME, nullable=False),
    ms_column("created_ms"),
    Column("origin", String(500), nullable=True),  # the reference the user gave, for display only
    Column("source_digest", DIGEST, nullable=True),  # the pipeline's source file, a blob
    ms_column("updated_ms", nullable=True),  # last update or re-enable: nothing fires for earlier times
    project_column(),
)

pipeline_triggers = Table(
    "pipeline_triggers",
    metadata,
    id_column(),
    Column("name", NAME, nullable=False, unique=True),
    Column("kind", String(20), nullable=False),  # dataset | alert
    Column("target", NAME, nullable=False),  # the dataset name, or the monitor name
    Column("pipeline", String(500), nullable=False),  # "stored:<source digest>:<pipeline name>"
    Column("params", Text, nullable=False, default="{}"),
    Column("param", String(100), nullable=False),  # the pipeline parameter that receives the event
    Column("runner", String(20), nullable=False),
    Column("baseline", Integer, nullable=True),  # dataset versions up to this one existed before the trigger
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_by", NAME, nullable=False),
    ms_column("created_ms"),
    Column("origin", String(500), nullable=True),  # the reference the user gave, for display only
    Column("source_digest", DIGEST, nullable=True),  # the pipeline's source file, a blob
    ms_column("updated_ms", nullable=True),  # last update or re-enable: nothing fires for earlier times
    project_column(),
)

pipeline_firings = Table(
    "pipeline_firings",
    metadata,
    Column("source_id", ID, primary_key=True),  # a schedule or trigger id
    Column("event", String(300), primary_key=True),  # the fire time (ms) or "dataset@version" or alert id
    Column("source_kind", String(20), nullable=False),  # schedule | trigger
    Column("run_id", ID, ForeignKey("pipeline_runs.id"), nullable=False),
    ms_column("created_ms"),
)
