"""Idempotency keys: one row per write call a client tagged with a key, holding its response.

A client retrying a write after a dropped connection sends the same key (to any server over the
same store); the server that finds the key answers with the stored response instead of writing
again. The row commits in the same transaction as the call's changes.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, LargeBinary, String, Table

from slipway.store.schema.base import metadata

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(200), primary_key=True),  # a keyed BLAKE3 hash of the key, never the key
    Column("principal", String(200), nullable=False),
    Column("endpoint", String(200), nullable=False),
    Column("request_digest", String(64), nullable=False),
    Column("response", LargeBinary, nullable=True),  # sealed with a key derived from the key
    Column("created_ms", BigInteger, nullable=False, index=True),
)
