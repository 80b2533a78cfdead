"""Leases: one row per named role that exactly one replica may hold at a time (leader election).

``token`` is the fencing token: it grows by one every time the lease passes to a new holder, so a
write that carries the token it was granted can be refused once another replica took over.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table

from slipway.store.schema.base import metadata

leases = Table(
    "leases",
    metadata,
    Column("name", String(200), primary_key=True),  # e.g. "scheduler", "canary:<deployment>"
    Column("holder", String(200), nullable=False),
    Column("token", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Column("acquired_ms", BigInteger, nullable=False),
)
