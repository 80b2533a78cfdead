"""Running the Alembic migrations programmatically.

Checking whether the schema is current must be cheap (every CLI command and process start does
it), so it reads ``alembic_version`` with plain SQL and finds the head revisions by reading the
revision files; Alembic itself is imported only when there is something to upgrade.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 7_340_271_553  # an arbitrary constant for pg_advisory_lock
_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)


def alembic_config(engine: Engine | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


@functools.cache
def head_revisions() -> frozenset[str]:
    """Revisions no other revision builds on, read from the revision files."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text()
        found = _REVISION.search(source)
        if not found:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(source)
        if down:
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return frozenset(revisions - parents)


def current_revisions(engine: Engine) -> frozenset[str]:
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return frozenset()
        return frozenset(row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version")))


def _upgrade(engine: Engine) -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), "heads")


def upgrade_to_head(engine: Engine, advisory_lock: bool = False) -> None:
    if current_revisions(engine) == head_revisions():
        return
    if not advisory_lock:
        _upgrade(engine)
        return
    from sqlalchemy import text

    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        conn.commit()
        try:
            if current_revisions(engine) != head_revisions():
                _upgrade(engine)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            conn.commit()
