"""Who used a dataset version: runs (``run_inputs``) and model versions trained by those runs."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, inspect, or_, select

from slipway.data.records import DatasetUsage, DatasetVersion
from slipway.store.schema.core import lineage_edges
from slipway.store.schema.registry import model_versions, registered_models
from slipway.store.schema.tracking import run_inputs


def dataset_usage(conn: Connection, version: DatasetVersion) -> DatasetUsage:
    rows = conn.execute(select(run_inputs.c.run_id).where(
        run_inputs.c.dataset == version.name,
        or_(run_inputs.c.version == version.version, run_inputs.c.digest == version.digest),
    ).order_by(run_inputs.c.created_ms))
    runs = list(dict.fromkeys(r.run_id for r in rows))
    models: list[str] = []
    # The registry may not be installed (its migration absent); then only lineage edges count.
    if inspect(conn).has_table(model_versions.name):
        query = (select(registered_models.c.name, model_versions.c.version, model_versions.c.run_id,
                        model_versions.c.datasets)
                 .join(registered_models, registered_models.c.id == model_versions.c.model_id)
                 .where(or_(model_versions.c.run_id.in_(runs) if runs else False,
                            model_versions.c.datasets.like(f"%{version.name}%"))))
        for row in conn.execute(query):
            if row.run_id in runs or _names_version(row.datasets, version):
                models.append(f"{row.name}/{row.version}")
    edges = conn.execute(select(lineage_edges.c.dst_id).where(
        lineage_edges.c.src_kind == "dataset_version", lineage_edges.c.src_id == version.ref,
        lineage_edges.c.dst_kind == "model_version"))
    models.extend(e.dst_id for e in edges)
    return DatasetUsage(runs, sorted(set(models)))


def _names_version(datasets_json: str, version: DatasetVersion) -> bool:
    try:
        entries = orjson.loads(datasets_json)
    except orjson.JSONDecodeError:
        return False
    return any(isinstance(e, dict) and e.get("dataset") == version.name
               and (e.get("version") == version.version or e.get("digest") == version.digest) for e in entries or [])
