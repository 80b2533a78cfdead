"""Experiment tracking: experiments, runs, params, metrics (with a latest-value table), tags,
artifacts and dataset inputs."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from slipway.store.schema.base import DIGEST, ID, KEY, NAME, id_column, metadata, ms_column, project_column

experiments = Table(
    "experiments",
    metadata,
    id_column(),
    Column("name", NAME, nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("lifecycle", String(20), nullable=False, default="active"),
    ms_column("created_ms"),
    project_column(),
)

runs = Table(
    "runs",
    metadata,
    id_column(),
    Column("experiment_id", ID, ForeignKey("experiments.id"), nullable=False, index=True),
    Column("name", NAME, nullable=False),
    Column("parent_id", ID, ForeignKey("runs.id"), nullable=True, index=True),
    Column("status", String(20), nullable=False),  # RUNNING | FINISHED | FAILED | KILLED
    ms_column("start_ms"),
    ms_column("end_ms", nullable=True),
    Column("lifecycle", String(20), nullable=False, default="active"),  # active | deleted
    ms_column("deleted_ms", nullable=True),
    Column("user", NAME, nullable=False),
    Column("git_commit", String(64), nullable=True),
    Column("git_dirty", Boolean, nullable=True),
    Column("source", String(500), nullable=True),
    Column("packages_digest", DIGEST, nullable=True),
    # Last sign of life of the process running it (set at start, then by its logger's heartbeats);
    # a RUNNING run whose heartbeat is stale belongs to a dead process and is reaped as FAILED.
    ms_column("heartbeat_ms", nullable=True),
    Index("ix_runs_exp_start", "experiment_id", "start_ms"),
    # Search's default order (newest first among active runs) walks this index and stops early.
    Index("ix_runs_lifecycle_start", "lifecycle", "start_ms", "id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_key_value", "key", "run_id"),
    # Equality filters on a param's value (params.model = 'rf') become an index range. Partial, so
    # that long values (up to 6,000 characters) never hit PostgreSQL's B-tree entry size limit;
    # the search compiler adds the matching length condition when the compared values are short.
    Index("ix_params_short_value", "key", "value", "run_id",
          sqlite_where=text("length(value) <= 200"), postgresql_where=text("length(value) <= 200")),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

# MLflow's experiment tags (set_experiment_tag); the description is the experiment's own column.
experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", ID, ForeignKey("experiments.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

# Every point. SQLite cannot store NaN (it becomes NULL), so NaN is a flag with value 0.
metrics = Table(
    "metrics",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", ID, ForeignKey("runs.id"), nullable=False),
    Column("key", KEY, nullable=False),
    Column("step", BigInteger, nullable=False),
    ms_column("ts"),
    Column("value", Float, nullable=False),
    Column("is_nan", Boolean, nullable=False, default=False),
    # Ordered as history reads are (step, time, insertion): a page seeks to its keyset (tracking/history.py).
    Index("ix_metrics_run_key_step_ts_id", "run_id", "key", "step", "ts", "id"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Float, nullable=False),
    Column("is_nan", Boolean, nullable=False, default=False),
    Column("step", BigInteger, nullable=False),
    ms_column("ts"),
    Index("ix_latest_metrics_key_value", "key", "value"),
    # Covers search's "top N by a metric": walked in value order without touching the table.
    Index("ix_latest_metrics_top", "key", "is_nan", "value", "run_id"),
)

# A summary of each metric series, kept by every write of points in the same transaction
# (slipway.tracking.metric_buckets): for each power-of-16 width, each step bucket's point count,
# first and last step, smallest and largest value and earliest and latest time (NaN points left
# out). A chart reads a few thousand of these rows instead of a million points.
metric_buckets = Table(
    "metric_buckets",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("width", BigInteger, primary_key=True),
    Column("bucket", BigInteger, primary_key=True),  # floor(step / width)
    Column("points", BigInteger, nullable=False),
    Column("first_step", BigInteger, nullable=False),
    Column("last_step", BigInteger, nullable=False),
    Column("min_value", Float, nullable=False),
    Column("max_value", Float, nullable=False),
    ms_column("first_ts"),
    ms_column("last_ts"),
    sqlite_with_rowid=False,  # rows of a series lie together in key order: a range is one sequential read
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("path", String(500), primary_key=True),
    Column("digest", DIGEST, nullable=False),
    Column("kind", String(10), nullable=False),  # file | dir
    Column("size", BigInteger, nullable=False),
    ms_column("created_ms"),
)

# Dataset versions a run read. Refers to datasets by name, version and digest (no foreign key),
# so a run can record an input before the data module knows the dataset.
run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id"), primary_key=True),
    Column("dataset", NAME, primary_key=True),
    Column("digest", DIGEST, primary_key=True),
    Column("version", Integer, nullable=True),
    Column("context", String(50), nullable=False, default="training"),
    ms_column("created_ms"),
    Index("ix_run_inputs_dataset", "dataset", "version"),
)
