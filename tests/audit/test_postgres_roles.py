"""On PostgreSQL the application role can append audit events but never UPDATE or DELETE them."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from slipway.core.errors import InvalidInput
from slipway.store.database import Database
from slipway.store.ledger import append_event
from slipway.store.ledger_roles import application_role_sql


def test_application_role_appends_but_cannot_rewrite(pg_uri: str) -> None:
    owner = Database(pg_uri)
    owner.upgrade()
    with owner.write() as conn:
        append_event(conn, "owner", "run.create", "run", "r1", {"n": 1})
    role, database = f"slipway_app_{uuid.uuid4().hex[:8]}", pg_uri.rsplit("/", 1)[1]
    with owner.write() as conn:
        for statement in application_role_sql(role, database):
            conn.execute(text(statement))
    app = Database(pg_uri.replace("postgres@", f"{role}@"))
    try:
        app.upgrade()  # the schema is current: a no-op the application role may run
        with app.write() as conn:
            assert append_event(conn, "ann", "run.create", "run", "r2", {"n": 2}).seq == 2
            conn.execute(text("UPDATE runs SET name = name"))  # other tables stay writable
        for statement in ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1",
                          "DELETE FROM audit_events WHERE seq = 2", "TRUNCATE audit_events"):
            with pytest.raises(DBAPIError, match="permission denied"), app.write() as conn:
                conn.execute(text(statement))
        with owner.read() as conn:
            assert conn.execute(text("SELECT actor FROM audit_events ORDER BY seq")).scalars().all() == ["owner", "ann"]
    finally:
        app.dispose()
        with owner.write() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        owner.dispose()


def test_role_names_are_checked() -> None:
    with pytest.raises(InvalidInput, match="role name 'app; DROP TABLE runs'"):
        application_role_sql("app; DROP TABLE runs", "slipway")
