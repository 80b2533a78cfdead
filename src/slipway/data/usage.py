"""Who used a dataset version: runs (``run_inputs``) and model versions trained by those runs.

The tables are tracking's and the registry's, so each answers for its own (a domain never reads
another's tables); both sit beside or above the data domain, so their functions are named by
path and imported when asked. Lineage edges (the shared table) add versions linked directly.
"""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import Connection, select

from slipway.data.records import DatasetUsage, DatasetVersion
from slipway.store.schema.core import lineage_edges

RUNS_READING = "slipway.tracking.facts:runs_reading"
VERSIONS_TRAINED_ON = "slipway.registry.usage:versions_trained_on"


def _function(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def dataset_usage(conn: Connection, version: DatasetVersion) -> DatasetUsage:
    runs: list[str] = _function(RUNS_READING)(conn, version.name, version.version, version.digest)
    models: list[str] = _function(VERSIONS_TRAINED_ON)(conn, version.name, version.version, version.digest, runs)
    edges = conn.execute(select(lineage_edges.c.dst_id).where(
        lineage_edges.c.src_kind == "dataset_version", lineage_edges.c.src_id == version.ref,
        lineage_edges.c.dst_kind == "model_version"))
    models.extend(e.dst_id for e in edges)
    return DatasetUsage(runs, sorted(set(models)))
