"""Running a monitor: read its window, run its checks, summarise each as passed or failed.

The window's identity (``window_key``) is a digest of what the data was — the dataset version's
digest, the payload segments' digests, a file's content hash — plus the window size, so running
the same window again finds the stored run instead of recording a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from slipway.core.hashing import hash_bytes, hash_file
from slipway.monitoring.drift import compare
from slipway.monitoring.monitor_spec import drift_spec
from slipway.monitoring.payload import payload_window
from slipway.monitoring.quality import check_quality
from slipway.monitoring.reference import Reference
from slipway.monitoring.window import WindowPartial

DEPLOYMENT = "deployment:"


def read_window(ws: Any, watch: str, rows: int | None,
                progress: Callable[[int, int], None] | None = None) -> tuple[pa.Table | WindowPartial, str]:
    """The watched data's last ``rows`` rows (all without a limit) and the window's key.

    A deployment's payload log is streamed segment by segment into a mergeable summary
    (:func:`~slipway.monitoring.payload.payload_window`), so the log's length does not matter.
    """
    if watch.startswith(DEPLOYMENT):
        name, _, variant = watch[len(DEPLOYMENT):].partition("/")
        window, digests = payload_window(ws, name, variant or None, rows, progress)
        identity = ",".join(digests) + f"/{variant}"
        return window, hash_bytes(f"{identity}|rows={rows}|n={window.num_rows}".encode())[:64]
    if watch.endswith((".parquet", ".csv")):
        identity = hash_file(Path(watch))
        table = ws.monitoring.table(watch)
    else:
        version = ws.data.get_version(watch)
        identity = version.digest
        table = ws.data.load(version.ref)
    if rows is not None and table.num_rows > rows:
        table = table.slice(table.num_rows - rows)
    return table, hash_bytes(f"{identity}|rows={rows}|n={table.num_rows}".encode())[:64]


def run_checks(spec: dict[str, Any], reference: Reference, reference_table: pa.Table | None,
               current: pa.Table | WindowPartial) -> dict[str, Any]:
    """Every check's outcome: ``{"checks": [{name, type, passed, summary, ...}], "rows": N}``."""
    outcomes = []
    for check in spec["checks"]:
        if check["type"] == "drift":
            report = compare(reference, current, drift_spec(check))
            limit = check.get("max_share")
            passed = report.share_drifted <= limit if limit is not None else not report.dataset_drift
            summary = (f"{len(report.drifted_columns)} of {len(report.columns)} columns drifted "
                       f"({report.share_drifted:.0%}): {report.drifted_columns}")
            columns = {c.column: {"method": c.method, "score": c.to_json()["score"], "drifted": c.drifted}
                       for c in report.columns}
            outcomes.append({"name": check["name"], "type": "drift", "passed": passed, "summary": summary,
                             "share_drifted": report.share_drifted, "drifted_columns": report.drifted_columns,
                             "columns": columns})
        else:
            assert reference_table is not None
            quality = check_quality(*quality_tables(reference_table, current if isinstance(current, pa.Table) else current.table(), check.get("columns")))
            errors = [f for f in quality.findings if f.severity == "error"]
            summary = "; ".join(f"{f.kind} {f.column}" for f in errors) or "no errors"
            outcomes.append({"name": check["name"], "type": "quality", "passed": quality.ok, "summary": summary,
                             "findings": quality.to_json()["findings"]})
    return {"rows": current.num_rows, "checks": outcomes}


def quality_tables(reference: pa.Table, current: pa.Table, columns: list[str] | None) -> tuple[pa.Table, pa.Table]:
    """The tables a quality check compares: the reference's ``columns`` (all without), and the
    current data without the model's outputs (a logged prediction is no input column)."""
    if columns:
        reference = reference.select([c for c in columns if c in reference.column_names])
    inputs = [n for n in current.column_names if n != "output" and not n.startswith("output.")]
    return reference, current.select(inputs)
