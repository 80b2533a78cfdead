"""Deployments: applied specs, their variants, per-step serving statistics, history, payload-log
segments and late feedback labels."""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table, Text

from slipway.store.schema.base import DIGEST, ID, NAME, id_column, metadata, ms_column, project_column

deployments = Table(
    "deployments",
    metadata,
    id_column(),
    Column("name", NAME, nullable=False, unique=True),
    Column("spec", Text, nullable=False),  # JSON: the applied spec, normalised
    Column("revision", Integer, nullable=False),  # bumped by every change servers must pick up
    Column("status", String(20), nullable=False),  # stable | canary | promoted | rolled_back | deleted
    Column("canary_step", Integer, nullable=False, default=0),  # index into spec.canary.steps
    ms_column("step_started_ms"),
    ms_column("created_ms"),
    ms_column("updated_ms"),
    project_column(),
)

deployment_variants = Table(
    "deployment_variants",
    metadata,
    Column("deployment_id", ID, ForeignKey("deployments.id"), primary_key=True),
    Column("name", NAME, primary_key=True),
    Column("role", String(20), nullable=False),  # stable | canary | shadow
    Column("ref", NAME, nullable=False),  # as written in the spec, e.g. ai4i@champion
    Column("model", NAME, nullable=False),
    Column("version", Integer, nullable=False),  # pinned when applied
    Column("weight", Float, nullable=False),  # share of production traffic, 0..100
)

# Cumulative counters per (deployment, revision, variant, server worker); a controller sums them.
deployment_stats = Table(
    "deployment_stats",
    metadata,
    Column("deployment_id", ID, ForeignKey("deployments.id"), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("variant", NAME, primary_key=True),
    Column("worker", String(100), primary_key=True),
    Column("counters", Text, nullable=False),  # JSON of slipway.deploy.stats.VariantCounters
    ms_column("updated_ms"),
)

deployment_history = Table(
    "deployment_history",
    metadata,
    id_column(),
    Column("deployment_id", ID, ForeignKey("deployments.id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("action", String(40), nullable=False),
    Column("actor", NAME, nullable=False),
    Column("details", Text, nullable=False),  # JSON, with the numbers behind a canary decision
    ms_column("created_ms"),
    Index("ix_deployment_history_dep_time", "deployment_id", "created_ms"),
)

payload_segments = Table(
    "payload_segments",
    metadata,
    id_column(),
    Column("deployment", NAME, nullable=False),
    Column("digest", DIGEST, nullable=False),  # a Parquet blob
    Column("rows", Integer, nullable=False),
    Column("requests", Integer, nullable=False),
    ms_column("first_ms"),
    ms_column("last_ms"),
    Column("columns", Text, nullable=False),  # JSON list
    ms_column("created_ms"),
    Index("ix_payload_segments_dep_time", "deployment", "first_ms"),
)

inference_feedback = Table(
    "inference_feedback",
    metadata,
    Column("request_id", String(100), primary_key=True),
    Column("deployment", NAME, nullable=False, index=True),
    Column("label", Text, nullable=False),  # JSON: one value, or one per row of the request
    ms_column("created_ms"),
)
