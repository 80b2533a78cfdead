"""The inference server's payload log as monitoring data: the model's inputs and outputs.

The log holds one row per predicted row: request metadata, ``input.<column>`` for each model
input and ``output`` (or ``output.<i>``). Drift and quality compare the inputs with the training
columns of the same names; the outputs stay as ``output…`` for prediction drift.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from slipway.monitoring.window import WindowPartial, merge_partials

INPUT = "input."


def rows_of_variant(log: pa.Table, variant: str) -> pa.Table:
    """Only the rows deployment variant ``variant`` served."""
    import pyarrow.compute as pc

    return log.filter(pc.equal(log.column("variant"), variant))


def payload_features(log: pa.Table, variant: str | None = None) -> pa.Table:
    """The inputs (``input.`` dropped from their names) and outputs of a payload log.

    Args:
        variant: keep only the rows this deployment variant served (e.g. the canary).
    """
    if variant is not None and "variant" in log.column_names:
        log = rows_of_variant(log, variant)
    names = [n for n in log.column_names if n.startswith(INPUT)]
    outputs = [n for n in log.column_names if n == "output" or n.startswith("output.")]
    return pa.table({**{n[len(INPUT):]: log.column(n) for n in names}, **{n: log.column(n) for n in outputs}})


def _served(log: pa.Table, column: str) -> str:
    if column not in log.column_names:
        return ""
    import pyarrow.compute as pc

    return ",".join(sorted(str(v) for v in pc.unique(pc.drop_null(log.column(column))).to_pylist()))


def payload_window(ws: Any, name: str, variant: str | None, rows: int | None,
                   progress: Callable[[int, int], None] | None = None, since_ms: int | None = None,
                   until_ms: int | None = None) -> tuple[WindowPartial, list[str]]:
    """The last ``rows`` rows (all without a limit) of a deployment's payload log logged in
    ``[since_ms, until_ms)`` (unbounded where None), streamed.

    Segments are read newest first, one at a time and only their input, output and model
    columns; each is summarised (:class:`~slipway.monitoring.window.WindowPartial`) and merged,
    so memory holds one segment and the window's summary, never the whole log. Returns the
    merged partial (``labels``: deployment, model and version(s) that served the rows) and the
    digests of the segments read (the window's identity). ``progress(rows_read, rows_wanted)``.
    A time window skips the segments logged wholly outside it and keeps the rows whose ``ts_ms``
    lies in it; the merged partial's ``labels`` then carry ``first_ms``/``last_ms`` of the rows kept.
    """
    import io

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    timed = since_ms is not None or until_ms is not None
    segments = [s for s in ws.serving.payload_segments(name)
                if not timed or ((since_ms is None or s.last_ms >= since_ms)
                                 and (until_ms is None or s.first_ms < until_ms))]
    wanted = rows if rows is not None else sum(s.rows for s in segments)
    first, last = None, None
    partials: list[WindowPartial] = []
    digests: list[str] = []
    have = 0
    for segment in reversed(segments):
        if rows is not None and have >= rows:
            break
        columns = [c for c in segment.columns if c.startswith((INPUT, "output")) or c in ("variant", "model", "version")
                   or (timed and c == "ts_ms")]
        log = pq.read_table(io.BytesIO(ws.blobs.read_bytes(segment.digest)), columns=columns)
        if variant is not None and "variant" in log.column_names:
            log = rows_of_variant(log, variant)
        if timed and "ts_ms" in log.column_names:
            ts = log.column("ts_ms")
            keep = pc.and_(pc.greater_equal(ts, since_ms if since_ms is not None else -2**62),
                           pc.less(ts, until_ms if until_ms is not None else 2**62))
            log = log.filter(keep)
        if rows is not None and have + log.num_rows > rows:
            log = log.slice(log.num_rows - (rows - have))
        if timed and log.num_rows and "ts_ms" in log.column_names:
            low, high = pc.min_max(log.column("ts_ms")).values()
            first = low.as_py() if first is None else min(first, low.as_py())
            last = high.as_py() if last is None else max(last, high.as_py())
        if log.num_rows == 0:
            continue
        partial = WindowPartial.of(payload_features(log))
        partial.labels = {"deployment": name, "model": _served(log, "model"), "version": _served(log, "version")}
        partials.append(partial)
        digests.append(segment.digest)
        have += log.num_rows
        if progress is not None:
            progress(min(have, wanted), wanted)
    merged = merge_partials(reversed(partials))
    if merged is None:
        merged = WindowPartial.of(pa.table({}))
        merged.labels = {"deployment": name, "model": "", "version": ""}
    if timed:
        merged.labels.update({"first_ms": str(first or ""), "last_ms": str(last or "")})
    return merged, digests[::-1]
