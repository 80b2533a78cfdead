"""Payload-log segments as an inference server writes them (Parquet blob + index row), for tests."""

from __future__ import annotations

import io

import numpy as np
import pyarrow.parquet as pq

from slipway.serving.frame import Frame
from slipway.serving.payload import PayloadEntry, entries_to_table
from slipway.workspace import Workspace

TORQUE = "Torque [Nm]"


def record_segment(ws: Workspace, rows: int, seed: int, version: str, torque_shift: float = 0.0,
                   deployment: str = "failures", ts_ms: int | None = None) -> str:
    """Log ``rows`` predictions of model ai4i/``version`` (torque ~ N(40 + shift, 10), a type),
    logged at ``ts_ms`` (the clock by default)."""
    rng = np.random.default_rng(seed)
    frame = Frame({TORQUE: rng.normal(40 + torque_shift, 10, rows),
                   "Type": np.array(rng.choice(["L", "M", "H"], rows), dtype=object)}, rows)
    entry = PayloadEntry(f"r{seed}", deployment, "default", "ai4i", version, frame, rng.random(rows), 1.0, 200)
    if ts_ms is not None:
        entry.ts_ms = ts_ms
    buffer = io.BytesIO()
    table = entries_to_table([entry])
    assert table.num_rows == rows, "every logged prediction is a row of the segment"
    pq.write_table(table, buffer)
    digest = ws.blobs.put_bytes(buffer.getvalue())
    ws.serving._backend.record_payload_segment({
        "digest": digest, "deployment": deployment, "rows": rows, "requests": 1,
        "first_ms": seed * 1000 if ts_ms is None else ts_ms, "last_ms": seed * 1000 + 1 if ts_ms is None else ts_ms,
        "columns": table.column_names})
    return digest
