"""Feature store definitions (every version kept) and the materialisation state of each view."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Integer, String, Table, Text, UniqueConstraint

from slipway.store.schema.base import DIGEST, NAME, id_column, metadata, ms_column, project_column

# One row per version of a definition; ``current`` marks the version in force (at most one per
# kind and name), a removed definition has none current and keeps its rows readable.
feature_definitions = Table(
    "feature_definitions",
    metadata,
    id_column(),
    Column("kind", String(30), nullable=False),  # entity | feature_view | on_demand_view | feature_service
    Column("name", NAME, nullable=False),
    Column("version", Integer, nullable=False),
    Column("spec", Text, nullable=False),  # JSON: the normalised definition
    Column("schema_digest", DIGEST, nullable=False),  # what a compatible change keeps
    Column("current", Boolean, nullable=False),
    Column("created_by", NAME, nullable=False),
    ms_column("created_ms"),
    ms_column("updated_ms"),
    ms_column("removed_ms", nullable=True),
    project_column(),
    UniqueConstraint("kind", "name", "version", name="uq_feature_definitions_version"),
)

# Per feature view: how far the online store is materialised (event time), and when.
feature_materializations = Table(
    "feature_materializations",
    metadata,
    id_column(),
    Column("view", NAME, nullable=False, unique=True),
    Column("view_version", Integer, nullable=False),
    ms_column("watermark_ms"),  # every source row with event time <= this is in the online store
    Column("max_event_ms", BigInteger, nullable=True),  # the newest event time written
    Column("rows", BigInteger, nullable=False),  # keys written by the last run
    Column("total_rows", BigInteger, nullable=False),
    Column("profile_digest", DIGEST, nullable=True),  # data profile of what the last run wrote
    ms_column("last_run_ms"),
    Column("last_run_by", NAME, nullable=False),
)
