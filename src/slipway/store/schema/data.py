"""Data versioning: datasets, their immutable numbered versions, and versioned YAML schemas."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from slipway.store.schema.base import DIGEST, ID, NAME, id_column, metadata, ms_column, project_column

datasets = Table(
    "datasets",
    metadata,
    id_column(),
    Column("name", NAME, nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    # JSON list of the columns that identify a row (used by diff to count added/removed rows).
    Column("key_columns", Text, nullable=False, default="[]"),
    ms_column("created_ms"),
    project_column(),
)

# (dataset_id, version) is unique: two concurrent adds cannot both take the same number; the loser's
# insert fails and it retries with the next number, so concurrent adds yield distinct versions.
dataset_versions = Table(
    "dataset_versions",
    metadata,
    id_column(),
    Column("dataset_id", ID, ForeignKey("datasets.id"), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("digest", DIGEST, nullable=False, index=True),  # the manifest blob
    Column("kind", String(10), nullable=False),  # file | folder | table
    Column("rows", BigInteger, nullable=True),
    Column("size", BigInteger, nullable=False),
    Column("file_count", Integer, nullable=False),
    Column("schema", Text, nullable=False, default="{}"),  # JSON: {table path: {column: type}}
    Column("profile_digest", DIGEST, nullable=True),
    ms_column("created_ms"),
    Column("created_by", NAME, nullable=False),
    Column("message", Text, nullable=False, default=""),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_version"),
)

dataset_schemas = Table(
    "dataset_schemas",
    metadata,
    Column("dataset_id", ID, ForeignKey("datasets.id"), primary_key=True),
    Column("revision", Integer, primary_key=True, autoincrement=False),
    Column("body", Text, nullable=False),  # YAML
    Column("source_version", Integer, nullable=True),
    ms_column("created_ms"),
    Column("created_by", NAME, nullable=False),
)
