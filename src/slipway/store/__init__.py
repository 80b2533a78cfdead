"""Layer 1: the metadata store (schema, migrations, engine), the audit ledger and lineage edges."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slipway.store.database import Database

__all__ = ["Database"]


def __getattr__(name: str) -> Any:
    # Loaded on first use, so ``slipway.store.migrate.head_revisions`` needs no SQLAlchemy.
    if name == "Database":
        from slipway.store.database import Database

        return Database
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
