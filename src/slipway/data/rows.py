"""Turning dataset rows into records (shared by the backend's queries)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from slipway.core.errors import NotFound
from slipway.core.names import split_versioned
from slipway.data.records import Dataset, DatasetVersion
from slipway.store.schema.data import dataset_versions, datasets


def dataset_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(datasets).where(datasets.c.name == name)).first()
    if row is None:
        raise NotFound(f"dataset {name!r} does not exist; add it with 'slipway data add {name} PATH'")
    return row


def to_version(dataset: Any, row: Any, created: bool = True) -> DatasetVersion:
    return DatasetVersion(
        name=dataset.name, version=row.version, digest=row.digest, kind=row.kind, rows=row.rows, size=row.size,
        file_count=row.file_count, schema=orjson.loads(row.schema), profile_digest=row.profile_digest,
        created_ms=row.created_ms, created_by=row.created_by, message=row.message,
        key_columns=orjson.loads(dataset.key_columns), created=created,
    )


def latest_version_row(conn: Connection, dataset_id: str) -> Any:
    return conn.execute(
        select(dataset_versions).where(dataset_versions.c.dataset_id == dataset_id)
        .order_by(dataset_versions.c.version.desc()).limit(1)
    ).first()


def version_record(conn: Connection, name: str, version: int | None) -> DatasetVersion:
    """The version ``version`` of ``name`` (the latest when None), or NotFound."""
    dataset = dataset_row(conn, name)
    if version is None:
        row = latest_version_row(conn, dataset.id)
    else:
        row = conn.execute(select(dataset_versions).where(
            dataset_versions.c.dataset_id == dataset.id, dataset_versions.c.version == version)).first()
    if row is None:
        raise NotFound(f"dataset {name!r} has no version {version if version is not None else '(none yet)'}")
    return to_version(dataset, row)


def list_dataset_records(conn: Connection) -> list[Dataset]:
    counts = (select(dataset_versions.c.dataset_id, func.count().label("n"), func.max(dataset_versions.c.version).label("latest"))
              .group_by(dataset_versions.c.dataset_id).subquery())
    query = (select(datasets, counts.c.n, counts.c.latest)
             .join(counts, counts.c.dataset_id == datasets.c.id, isouter=True).order_by(datasets.c.name))
    return [Dataset(r.name, r.description, orjson.loads(r.key_columns), r.created_ms, r.n or 0, r.latest)
            for r in conn.execute(query)]


def version_node_exists(conn: Connection, ident: str) -> bool:
    """Whether the lineage node ``name@N`` is a dataset version (True when ``ident`` is not of that shape)."""
    parsed = split_versioned(ident, "@")
    if parsed is None:
        return True
    query = (select(dataset_versions.c.id).join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
             .where(datasets.c.name == parsed[0], dataset_versions.c.version == parsed[1]))
    return conn.execute(query.limit(1)).first() is not None
