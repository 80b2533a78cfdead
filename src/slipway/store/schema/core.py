"""Tables every domain shares: the audit ledger, users and tokens, lineage edges."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from slipway.store.schema.base import DIGEST, ID, NAME, id_column, metadata, ms_column

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", ID, nullable=False, unique=True),
    ms_column("ts"),
    Column("actor", NAME, nullable=False),
    Column("action", String(100), nullable=False),
    Column("subject_kind", String(50), nullable=False),
    Column("subject_id", String(300), nullable=False),
    Column("details", Text, nullable=False),
    # RFC 6962 leaf hash of the event (slipway.core.transparency.event_leaf); the Merkle tree over
    # these, in seq order, is what signed checkpoints commit to.
    Column("leaf_hash", DIGEST, nullable=False),
    Index("ix_audit_subject", "subject_kind", "subject_id"),
    Index("ix_audit_ts", "ts"),
)

# One row (id = 1): the last sequence number and leaf hash. Appenders lock it, so events are
# numbered without gaps across processes.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", DIGEST, nullable=False),
)

users = Table(
    "users",
    metadata,
    id_column(),
    Column("name", NAME, nullable=False, unique=True),
    Column("kind", String(20), nullable=False),  # user | service
    Column("roles", Text, nullable=False),  # JSON list
    Column("email", String(300), nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    ms_column("created_ms"),
    Column("password_hash", String(200), nullable=True),  # scrypt, for the web UI (identity/passwords.py)
)

api_tokens = Table(
    "api_tokens",
    metadata,
    id_column(),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("description", String(300), nullable=False, default=""),
    ms_column("created_ms"),
    ms_column("expires_ms", nullable=True),
    ms_column("revoked_ms", nullable=True),
    ms_column("last_used_ms", nullable=True),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("src_kind", String(50), nullable=False),
    Column("src_id", String(300), nullable=False),
    Column("dst_kind", String(50), nullable=False),
    Column("dst_id", String(300), nullable=False),
    Column("relation", String(50), nullable=False),
    Column("details", Text, nullable=False, default="{}"),
    ms_column("created_ms"),
    UniqueConstraint("src_kind", "src_id", "dst_kind", "dst_id", "relation", name="uq_lineage_edge"),
    Index("ix_lineage_src", "src_kind", "src_id"),
    Index("ix_lineage_dst", "dst_kind", "dst_id"),
)
