"""Every blob digest the metadata store references, for garbage collection.

Rather than a list each domain must remember to update, this scans every table of the schema for
columns named ``digest`` or ending in ``_digest`` (``run_artifacts.digest``,
``runs.packages_digest``, ``model_versions.bundle_digest``, ...), so a new domain's references
are covered the moment its table follows that naming rule.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Column, Connection, Table, inspect, select

from slipway.core.hashing import DIGEST_RE
from slipway.store.schema import metadata


def digest_columns() -> Iterator[tuple[Table, Column]]:
    """Each (table, column) of the schema that holds a blob digest, by the naming rule."""
    for table in metadata.sorted_tables:
        for column in table.columns:
            if column.name == "digest" or column.name.endswith("_digest"):
                yield table, column


def referenced_digests(conn: Connection) -> set[str]:
    """The distinct well-formed digests held in any digest column of any existing table."""
    present = set(inspect(conn).get_table_names())
    found: set[str] = set()
    for table, column in digest_columns():
        if table.name not in present:  # a domain whose migration has not run holds nothing yet
            continue
        query = select(column).where(column.is_not(None)).distinct()
        found.update(value for value in conn.execute(query).scalars() if isinstance(value, str) and DIGEST_RE.fullmatch(value))
    return found
