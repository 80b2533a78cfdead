"""Small query helpers every backend shares."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select

from slipway.core.errors import NotFound


def one_row(conn: Connection, query: Select[Any], missing: str, lock: bool = False) -> Any:
    """The single row ``query`` finds, or NotFound with the message ``missing``.

    ``lock`` holds the row for the rest of the transaction on PostgreSQL (``SELECT … FOR UPDATE``);
    SQLite's ``BEGIN IMMEDIATE`` write transactions are already exclusive.
    """
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(missing)
    return row
