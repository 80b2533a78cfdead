"""Queries on users and their registered keys (``users``, ``user_keys``), on a caller's connection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from slipway.store.schema.core import users
from slipway.store.schema.identity import user_keys


def user_row(conn: Connection, name: str) -> Any:
    """The ``users`` row named ``name``, or None."""
    return conn.execute(select(users).where(users.c.name == name)).first()


def user_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(users)).scalar() or 0)


def key_row(conn: Connection, fingerprint: str) -> Any:
    """The key with this fingerprint and its owner's name (``.owner``), revoked or not; or None."""
    return conn.execute(
        select(user_keys, users.c.name.label("owner")).join(users, users.c.id == user_keys.c.user_id)
        .where(user_keys.c.fingerprint == fingerprint)
    ).first()


def key_owner(conn: Connection, fingerprint: str) -> str | None:
    """The user an active (not revoked) key is registered to."""
    row = key_row(conn, fingerprint)
    return None if row is None or row.revoked_ms is not None else str(row.owner)
