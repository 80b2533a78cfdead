"""Running the Alembic migrations programmatically."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 7_340_271_553  # an arbitrary constant for pg_advisory_lock


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


@functools.cache
def head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def upgrade_to_head(engine: Engine, advisory_lock: bool = False) -> None:
    if current_revisions(engine) == head_revisions():
        return
    if not advisory_lock:
        command.upgrade(alembic_config(engine), "heads")
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        conn.commit()
        try:
            if current_revisions(engine) != head_revisions():
                command.upgrade(alembic_config(engine), "heads")
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            conn.commit()
