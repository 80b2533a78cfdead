"""Dialect-neutral ``INSERT … ON CONFLICT`` for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table


def _insert(conn: Connection, table: Table) -> Any:
    # The dialect's own insert, imported on first use: the PostgreSQL dialect alone takes tens
    # of milliseconds to import, which every embedded SQLite command would otherwise pay.
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    if rows:
        conn.execute(_insert(conn, table).on_conflict_do_nothing(index_elements=list(keys)), list(rows))


def upsert(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str],
    update: Sequence[str], where: Any = None,
) -> None:
    """Insert ``rows``; on a key clash, overwrite the ``update`` columns (only where ``where`` holds).

    ``where`` is a function of the ``excluded`` pseudo-table returning a condition.
    """
    if not rows:
        return
    stmt = _insert(conn, table)
    condition: ColumnElement[bool] | None = where(stmt.excluded) if where is not None else None
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in update}, where=condition
    )
    conn.execute(stmt, list(rows))
