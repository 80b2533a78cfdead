"""Alembic environment: runs against the engine Slipway passes in ``config.attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from slipway.store.schema import metadata

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # the alembic command line, e.g. to autogenerate a revision
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///alembic-dev.db")

with engine.connect() as connection:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
