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


def insert_many(conn: Connection, table: str, columns: str, types: Sequence[str], rows: Sequence[Sequence[Any]],
                conflict: str = "") -> None:
    """Insert many plain-tuple rows into ``table`` ``columns`` (``(a, b, …)``) through the driver.

    ``types`` is the PostgreSQL type of each column; ``conflict`` an optional ``ON CONFLICT …``
    clause (no two rows may then share a conflict key). On PostgreSQL, rows without a conflict
    clause are streamed with ``COPY`` (psycopg formats them in C), and rows with one go as one
    array per column in one statement (``SELECT * FROM unnest(…)``); both keep the rows' order. A
    pipelined ``executemany`` there still has the server parse and run a statement per row,
    several times the cost for a 1,000-point batch. On SQLite the driver's ``executemany`` is
    already the fast path.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        if not conflict:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:  # on this connection, so inside the caller's transaction
                with cursor.copy(f"COPY {table} {columns} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            finally:
                cursor.close()
            return
        arrays = ", ".join(f"%s::{kind}[]" for kind in types)
        conn.exec_driver_sql(f"INSERT INTO {table} {columns} SELECT * FROM unnest({arrays}) {conflict}",
                             tuple(map(list, zip(*rows, strict=True))))
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    conn.exec_driver_sql(f"INSERT INTO {table} {columns} VALUES ({', '.join([mark] * len(types))}) {conflict}", list(rows))
