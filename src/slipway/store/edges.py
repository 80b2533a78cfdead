"""Writing typed lineage edges (the graph queries live in ``slipway.lineage``).

Kinds are short nouns (``dataset_version``, ``run``, ``model_version``, ``deployment``,
``pipeline_run``, ``feature_view``); ids are the natural reference (``name@3``, a run id,
``name/7``). An edge reads "src --relation--> dst", e.g. ``dataset_version ai4i@2 --input_to--> run 41``.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection

from slipway.core.clock import now_ms
from slipway.store.schema.core import lineage_edges
from slipway.store.upsert import insert_ignore


def add_edge(
    conn: Connection, src_kind: str, src_id: str, relation: str, dst_kind: str, dst_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Record ``src --relation--> dst`` once (repeats are ignored)."""
    row = {
        "src_kind": src_kind, "src_id": src_id, "dst_kind": dst_kind, "dst_id": dst_id, "relation": relation,
        "details": orjson.dumps(details or {}).decode(), "created_ms": now_ms(),
    }
    insert_ignore(conn, lineage_edges, [row], ["src_kind", "src_id", "dst_kind", "dst_id", "relation"])
