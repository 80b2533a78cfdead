"""The model registry: registered models, their versions and aliases.

Governance owns the ``state`` column of a version (its lifecycle: registered → validated →
pending_approval → approved → deployed → retired; rejected; revoked) and the tables in
``governance.py``; the registry only creates versions in state ``registered``.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from slipway.store.schema.base import DIGEST, ID, NAME, id_column, metadata, ms_column, project_column

registered_models = Table(
    "registered_models",
    metadata,
    id_column(),
    Column("name", NAME, nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("owner", NAME, nullable=False),
    Column("risk_tier", String(20), nullable=False, default="low"),  # low | medium | high (configurable)
    Column("tags", Text, nullable=False, default="{}"),  # JSON object
    ms_column("created_ms"),
    ms_column("updated_ms"),
    project_column(),
)

model_versions = Table(
    "model_versions",
    metadata,
    id_column(),
    Column("model_id", ID, ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", ID, ForeignKey("runs.id"), nullable=True, index=True),
    Column("artifact_path", String(500), nullable=False),
    Column("bundle_digest", DIGEST, nullable=False),  # the bundle folder's manifest digest
    Column("flavor", String(50), nullable=False),
    Column("signature", Text, nullable=False, default="{}"),  # JSON
    Column("metrics", Text, nullable=False, default="{}"),  # JSON snapshot of the run's latest metrics
    Column("params", Text, nullable=False, default="{}"),  # JSON snapshot of the run's params
    Column("datasets", Text, nullable=False, default="[]"),  # JSON list of {dataset, version, digest, context}
    Column("description", Text, nullable=False, default=""),
    Column("tags", Text, nullable=False, default="{}"),
    Column("state", String(30), nullable=False, default="registered"),
    Column("created_by", NAME, nullable=False),
    ms_column("created_ms"),
    ms_column("updated_ms"),
    UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
    Index("ix_model_versions_digest", "bundle_digest"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", ID, ForeignKey("registered_models.id"), primary_key=True),
    Column("alias", NAME, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("set_by", NAME, nullable=False),
    ms_column("updated_ms"),
)

# Every alias move and removal, in order: "what was in production at time T" reads this typed
# history (the audit ledger proves it was not rewritten; replaying the ledger is not needed).
model_alias_history = Table(
    "model_alias_history",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("model_name", NAME, nullable=False),
    Column("alias", NAME, nullable=False),
    Column("version", Integer, nullable=True),  # null: the alias was removed
    Column("set_by", NAME, nullable=False),
    ms_column("ts_ms"),
    Index("ix_model_alias_history_model_ts", "model_name", "ts_ms"),
)
