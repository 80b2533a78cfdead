"""Whether a lineage node exists, so that asking about something unknown is NotFound rather than
an empty graph. Kinds without a table of their own (or unknown kinds) are not checked.

Each kind's owner answers for its own rows (a domain never reads another's tables): the
functions are named by path and imported when first asked, because some owners (deployments,
pipelines) sit in a layer above lineage. A new kind with a table adds one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from sqlalchemy import Connection

NodeCheck = Callable[[Connection, str], bool]

NODE_CHECKS: dict[str, str] = {
    "run": "slipway.tracking.facts:run_exists",
    "pipeline_run": "slipway.pipelines.rows:pipeline_run_exists",
    "deployment": "slipway.deploy.rows:deployment_exists",
    "model_version": "slipway.registry.rows:version_node_exists",
    "dataset_version": "slipway.data.rows:version_node_exists",
}


def node_check(kind: str) -> NodeCheck | None:
    path = NODE_CHECKS.get(kind)
    if path is None:
        return None
    module, _, name = path.partition(":")
    check: NodeCheck = getattr(importlib.import_module(module), name)
    return check


def node_exists(conn: Connection, kind: str, ident: str) -> bool:
    check = node_check(kind)
    return check is None or check(conn, ident)
