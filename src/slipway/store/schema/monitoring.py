"""Monitors (declarative specs), their runs (one per monitor and window) and their alerts."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from slipway.store.schema.base import ID, NAME, id_column, metadata, ms_column, project_column

monitors = Table(
    "monitors",
    metadata,
    id_column(),
    Column("name", NAME, nullable=False, unique=True),
    Column("spec", Text, nullable=False),  # JSON: the applied spec, normalised
    Column("revision", Integer, nullable=False),
    ms_column("created_ms"),
    ms_column("updated_ms"),
    project_column(),
)

# One run per (monitor, revision, window): re-running the same window returns the stored run.
monitor_runs = Table(
    "monitor_runs",
    metadata,
    id_column(),
    Column("monitor_id", ID, ForeignKey("monitors.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("window_key", String(200), nullable=False),  # what the current data was (digests), hashed
    Column("status", String(20), nullable=False),  # ok | alert
    Column("result", Text, nullable=False),  # JSON: every check's outcome and its numbers
    Column("created_by", NAME, nullable=False),
    ms_column("created_ms"),
    UniqueConstraint("monitor_id", "revision", "window_key", name="uq_monitor_runs_window"),
)

# At most one alert per monitor and check that is not resolved (open or acknowledged).
alerts = Table(
    "alerts",
    metadata,
    id_column(),
    Column("monitor_id", ID, ForeignKey("monitors.id"), nullable=False),
    Column("check_name", NAME, nullable=False),
    Column("state", String(20), nullable=False),  # open | acknowledged | resolved
    Column("summary", Text, nullable=False),
    Column("first_run_id", ID, nullable=False),
    Column("last_run_id", ID, nullable=False),
    Column("occurrences", Integer, nullable=False),
    ms_column("opened_ms"),
    ms_column("updated_ms"),
    Column("updated_by", NAME, nullable=False),
    Column("note", Text, nullable=False, default=""),
)
Index("ix_alerts_monitor_check_state", alerts.c.monitor_id, alerts.c.check_name, alerts.c.state)
Index("ix_monitor_runs_monitor_created", monitor_runs.c.monitor_id, monitor_runs.c.created_ms)
