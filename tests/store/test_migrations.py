"""The Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from slipway.store.database import Database
from slipway.store.migrate import current_revisions, head_revisions
from slipway.store.schema import metadata


def _diff(db: Database) -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        return [d for d in compare_metadata(context, metadata) if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")]


def test_sqlite_migrations_match_schema(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.upgrade()
    assert current_revisions(db.engine) == head_revisions()
    assert _diff(db) == []
    db.upgrade()  # a second upgrade is a no-op
    assert current_revisions(db.engine) == head_revisions()


def test_postgres_migrations_match_schema(pg_uri: str) -> None:
    db = Database(pg_uri)
    db.upgrade()
    assert _diff(db) == []
    db.dispose()
