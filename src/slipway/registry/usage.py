"""Which model versions were trained on a dataset version: the registry's half of ``data usage``."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, inspect, or_, select

from slipway.store.schema.registry import model_versions, registered_models


def versions_trained_on(conn: Connection, dataset: str, version: int, digest: str, run_ids: list[str]) -> list[str]:
    """``name/N`` of every version registered from one of ``run_ids`` or recording the dataset version."""
    # The registry may not be installed (its migration absent); then no version used it.
    if not inspect(conn).has_table(model_versions.name):
        return []
    query = (select(registered_models.c.name, model_versions.c.version, model_versions.c.run_id,
                    model_versions.c.datasets)
             .join(registered_models, registered_models.c.id == model_versions.c.model_id)
             .where(or_(model_versions.c.run_id.in_(run_ids) if run_ids else False,
                        model_versions.c.datasets.like(f"%{dataset}%"))))
    return [f"{row.name}/{row.version}" for row in conn.execute(query)
            if row.run_id in run_ids or _names_version(row.datasets, dataset, version, digest)]


def _names_version(datasets_json: str, dataset: str, version: int, digest: str) -> bool:
    try:
        entries = orjson.loads(datasets_json)
    except orjson.JSONDecodeError:
        return False
    return any(isinstance(e, dict) and e.get("dataset") == dataset
               and (e.get("version") == version or e.get("digest") == digest) for e in entries or [])
