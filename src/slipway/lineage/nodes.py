"""Whether a lineage node exists, so that asking about something unknown is NotFound rather than
an empty graph. Kinds without a table of their own (or unknown kinds) are not checked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from slipway.core.limits import whole_number
from slipway.store.schema.data import dataset_versions, datasets
from slipway.store.schema.deploy import deployments
from slipway.store.schema.pipelines import pipeline_runs
from slipway.store.schema.registry import model_versions, registered_models
from slipway.store.schema.tracking import runs


def _versioned(ident: str, separator: str) -> tuple[str, int] | None:
    name, _, number = ident.rpartition(separator)
    return (name, int(number)) if name and whole_number(number) is not None else None


def node_exists(conn: Connection, kind: str, ident: str) -> bool:
    query: Any = None
    if kind == "run":
        query = select(runs.c.id).where(runs.c.id == ident)
    elif kind == "pipeline_run":
        query = select(pipeline_runs.c.id).where(pipeline_runs.c.id == ident)
    elif kind == "deployment":
        query = select(deployments.c.name).where(deployments.c.name == ident)
    elif kind == "model_version" and (parsed := _versioned(ident, "/")):
        query = (select(model_versions.c.id).join(registered_models, registered_models.c.id == model_versions.c.model_id)
                 .where(registered_models.c.name == parsed[0], model_versions.c.version == parsed[1]))
    elif kind == "dataset_version" and (parsed := _versioned(ident, "@")):
        query = (select(dataset_versions.c.id).join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
                 .where(datasets.c.name == parsed[0], dataset_versions.c.version == parsed[1]))
    return query is None or conn.execute(query.limit(1)).first() is not None
