"""The shared ``MetaData`` and column helpers every schema module uses."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, String

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(32)
NAME = String(200)
KEY = String(250)
DIGEST = String(64)


def id_column(name: str = "id") -> Column:
    return Column(name, ID, primary_key=True)


def ms_column(name: str, nullable: bool = False) -> Column:
    """A timestamp in integer milliseconds since the epoch."""
    return Column(name, BigInteger, nullable=nullable)


def project_column() -> Column:
    """The project that owns a row (``slipway.store.projects``); rows made before projects, or
    without naming one, belong to ``default``."""
    return Column("project", NAME, nullable=False, server_default="default", default="default", index=True)
