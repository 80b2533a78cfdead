"""Webhooks: subscriptions, and their delivery outbox (one row per event and subscription, written
in the event's own transaction) with its attempt log. Owned by :mod:`slipway.webhooks`."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from slipway.store.schema.base import ID, NAME, id_column, metadata, ms_column

webhooks = Table(
    "webhooks",
    metadata,
    id_column(),
    Column("url", String(1000), nullable=False),
    Column("kind", String(20), nullable=False),  # generic | servicenow
    Column("event_types", Text, nullable=False),  # JSON list
    Column("secret", String(200), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_by", NAME, nullable=False),
    ms_column("created_ms"),
)

# The outbox: one row per (event, subscription), written in the event's own transaction.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    id_column(),
    Column("webhook_id", ID, ForeignKey("webhooks.id"), nullable=False),
    Column("event_type", String(50), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(20), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    ms_column("next_attempt_ms"),
    ms_column("lease_until_ms", nullable=True),
    ms_column("created_ms"),
    ms_column("delivered_ms", nullable=True),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_ms"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("delivery_id", ID, ForeignKey("webhook_deliveries.id"), primary_key=True),
    Column("attempt", Integer, primary_key=True),
    ms_column("ts"),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
)
