"""Running a monitor: read its window, run its checks, summarise each as passed or failed.

The window's identity (``window_key``) is a digest of what the data was — the dataset version's
digest, the payload segments' digests, a file's content hash — plus the window size, so running
the same window again finds the stored run instead of recording a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput
from slipway.core.hashing import hash_bytes, hash_file
from slipway.monitoring.drift import compare
from slipway.monitoring.monitor_spec import drift_spec, time_range
from slipway.monitoring.payload import payload_window
from slipway.monitoring.performance_check import MIN_LABELS, window_performance, worse_by
from slipway.monitoring.quality import check_quality
from slipway.monitoring.reference import Reference
from slipway.monitoring.window import WindowPartial

DEPLOYMENT = "deployment:"


def read_window(ws: Any, watch: str, window: dict[str, Any], progress: Callable[[int, int], None] | None = None,
                now: int | None = None) -> tuple[pa.Table | WindowPartial, str]:
    """The watched data's window (see :func:`~slipway.monitoring.monitor_spec.parse_window`: the
    last ``rows`` rows, of the time range when one is given; all without a limit) and its key.

    A deployment's payload log is streamed segment by segment into a mergeable summary
    (:func:`~slipway.monitoring.payload.payload_window`), so the log's length does not matter.
    A time window's key names the times of the rows it holds, not the clock: re-running ``last:
    7d`` while no row came or left finds the same window.
    """
    rows = window.get("rows")
    since, until = time_range(window, now if now is not None else now_ms())
    timed = since is not None or until is not None
    if watch.startswith(DEPLOYMENT):
        name, _, variant = watch[len(DEPLOYMENT):].partition("/")
        partial, digests = payload_window(ws, name, variant or None, rows, progress, since, until)
        identity = ",".join(digests) + f"/{variant}"
        if timed:
            identity += f"|{partial.labels.get('first_ms')}-{partial.labels.get('last_ms')}"
        return partial, hash_bytes(f"{identity}|rows={rows}|n={partial.num_rows}".encode())[:64]
    if watch.endswith((".parquet", ".csv")):
        identity = hash_file(Path(watch))
        table = ws.monitoring.table(watch)
    else:
        version = ws.data.get_version(watch)
        identity = version.digest
        table = ws.data.load(version.ref)
    if timed:
        table, bounds = rows_in_time(table, window["timestamp"], since, until)
        identity += f"|{bounds}"
    if rows is not None and table.num_rows > rows:
        table = table.slice(table.num_rows - rows)
    return table, hash_bytes(f"{identity}|rows={rows}|n={table.num_rows}".encode())[:64]


def rows_in_time(table: pa.Table, column: str, since: int | None, until: int | None) -> tuple[pa.Table, str]:
    """The rows of ``table`` whose ``column`` (a timestamp, or epoch milliseconds) lies in
    ``[since, until)``, in time order, and the first and last time kept.

    Raises:
        InvalidInput: no such column, or not a time.
    """
    if column not in table.column_names:
        raise InvalidInput(f"the window's timestamp column {column!r} is not in the data; it has {table.column_names}")
    values = table.column(column)
    try:
        ms = (values.cast(pa.timestamp("ms")) if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type)
              else values).cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise InvalidInput(f"the window's timestamp column {column!r} must hold times or epoch milliseconds, "
                           f"not {values.type}") from err
    keep = pc.and_(pc.greater_equal(ms, since if since is not None else -2**62),
                   pc.less(ms, until if until is not None else 2**62))
    kept = table.append_column("__ms", ms).filter(keep)
    kept = kept.take(pc.sort_indices(kept, [("__ms", "ascending")]))
    bounds = "-".join(str(v) for v in pc.min_max(kept.column("__ms")).values()) if kept.num_rows else "empty"
    return kept.drop_columns(["__ms"]), bounds


def run_checks(spec: dict[str, Any], reference: Reference, reference_table: pa.Table | None,
               current: pa.Table | WindowPartial,
               performance: dict[str, PerformanceData] | None = None) -> dict[str, Any]:
    """Every check's outcome: ``{"checks": [{name, type, passed, summary, ...}], "rows": N}``.

    ``performance`` holds each performance check's data by check name (see :class:`PerformanceData`).
    """
    outcomes = []
    for check in spec["checks"]:
        if check["type"] == "performance":
            outcomes.append(performance_outcome(check, (performance or {})[check["name"]]))
        elif check["type"] == "drift":
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


@dataclass(frozen=True)
class PerformanceData:
    """What a performance check judges: the labelled reference and the window, both with the
    model's ``prediction`` (and ``score``) columns, and the served version's recorded metrics."""

    reference: pa.Table
    current: pa.Table
    evaluation: dict[str, float]


def labelled_rows(table: pa.Table, target: str) -> int:
    return int(pc.sum(pc.is_valid(table.column(target))).as_py() or 0) if target in table.column_names else 0


def performance_outcome(check: dict[str, Any], data: PerformanceData) -> dict[str, Any]:
    """A performance check's outcome (see :mod:`slipway.monitoring.monitor_spec`).

    Raises:
        InvalidInput: missing columns, labels that do not fit the metric, ``against: evaluation``
            when the model version recorded no such metric.
    """
    metric, target = check["metric"], check["target"]
    source, min_labels = check.get("source", "auto"), check.get("min_labels", MIN_LABELS)
    base = {"name": check["name"], "type": "performance", "metric": metric}
    count = labelled_rows(data.current, target)
    if source == "realised" and count < min_labels:
        return {**base, "passed": True, "evaluated": False, "labelled": count,
                "summary": f"not evaluated: {count} labelled rows, realised {metric} needs {min_labels}"}
    found = window_performance(data.reference, data.current, metric=metric, target=target, source=source,
                               min_labels=min_labels, features=check.get("columns"))
    against = check.get("against", "reference")
    if against == "evaluation":
        if metric not in data.evaluation:
            raise InvalidInput(f"performance check {check['name']!r}: the model version recorded no {metric} "
                               f"(it recorded {sorted(data.evaluation) or 'no metric'}); use 'against: reference'")
        baseline: float | None = float(data.evaluation[metric])
    else:
        baseline = found.reference
    value = found.value
    drop = worse_by(metric, value, baseline) if value is not None and baseline is not None else None
    failures = []
    if value is not None and "minimum" in check and value < check["minimum"]:
        failures.append(f"below the minimum {check['minimum']:g}")
    if value is not None and "maximum" in check and value > check["maximum"]:
        failures.append(f"above the maximum {check['maximum']:g}")
    if drop is not None and "max_drop" in check and drop > check["max_drop"]:
        failures.append(f"worse by {drop:.3f} > {check['max_drop']:g} than the {against} ({baseline:.3f})")
    if not {"minimum", "maximum", "max_drop"} & set(check) and found.outside_band:
        failures.append(f"outside the reference band [{found.band_lower}, {found.band_upper}]")
    how = (f"realised on {found.labelled} labelled rows" if found.source == "realised"
           else f"estimated by {(found.estimator or '').upper()}")
    shown = "undefined" if value is None else f"{value:.3f}"
    summary = f"{metric} {shown} ({how})" + (": " + "; ".join(failures) if failures else "")
    return {**base, "passed": not failures, "evaluated": value is not None, "summary": summary,
            "source": found.source, "value": value, "baseline": baseline, "against": against, "drop": drop,
            "band": [found.band_lower, found.band_upper], "labelled": found.labelled, "rows": found.rows,
            "performance": [found.gauge()]}


def quality_tables(reference: pa.Table, current: pa.Table, columns: list[str] | None) -> tuple[pa.Table, pa.Table]:
    """The tables a quality check compares: the reference's ``columns`` (all without), and the
    current data without the model's outputs (a logged prediction is no input column)."""
    if columns:
        reference = reference.select([c for c in columns if c in reference.column_names])
    inputs = [n for n in current.column_names if n != "output" and not n.startswith("output.")]
    return reference, current.select(inputs)
