"""Layer 1: the metadata store (schema, migrations, engine), the audit ledger and lineage edges."""

from slipway.store.database import Database

__all__ = ["Database"]
