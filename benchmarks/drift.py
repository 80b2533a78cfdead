"""Benchmark ``drift``: per-column data drift, Slipway vs Evidently ``DataDriftPreset``.

Cases (BENCHMARKS.md):

- ``drift_1m_x_50`` — 1,000,000 reference rows and 1,000,000 current rows x 50 columns (40
  numeric, 10 categorical; 100,000 rows with ``--quick``), read from Parquet and tested column by
  column with the default choice of test (normed Wasserstein for the numeric columns and
  Jensen-Shannon for the categorical ones at this size). Slipway: ``Reference.of`` +
  ``compare`` (what ``ws.monitoring.drift`` runs) on the files read column by column; Evidently: ``Report([DataDriftPreset()])`` on ``Dataset``s
  with the same numeric/categorical data definition. Wall time of the whole job in each side's
  own process, Parquet read included.
- ``drift_1m_x_50_memory`` — the peak RSS of those same processes (``ratio`` = Evidently ÷ Slipway).
- ``drift_1m_x_50_cached_reference`` — Slipway with the reference prepared beforehand and stored
  (``ReferenceCache``, untimed), read back memory-mapped; Evidently has no stored reference, so its
  side is the same full run.
- ``scan_current_duckdb`` (limit) — DuckDB reading every column of the current file once
  (``SELECT count(*), sum(...)`` over all columns), reported in seconds beside the cached case.

The data has a known shift: numeric columns 0-5 move by 0.2-0.7 standard deviations, categorical
columns 0-1 change their category shares; the rest are drawn from the same distributions.
``checks`` is ``ok`` only when, with the methods forced to the same tests on both sides
(``wasserstein`` for numeric, ``jensenshannon`` for categorical), every column's verdict agrees,
every score agrees to 1e-6 relative, and the shifted columns are the drifted ones. Run::

    .venv/bin/python benchmarks/drift.py [--quick] [--rounds N]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peer  # noqa: E402 - after the path set-up above

WORKLOAD = "drift"
EVIDENTLY = _peer.Peer("evidently", ["evidently==0.7.23", "pandas==2.3.3"])
NUMERIC, CATEGORICAL = 40, 10
SHIFTED_NUMERIC, SHIFTED_CATEGORICAL = 6, 2
FORCED = {"numeric": "wasserstein", "categorical": "jensenshannon"}
EVIDENTLY_RULES = {"Wasserstein distance (normed)": ("wasserstein", False), "Jensen-Shannon distance": ("js", False)}


def make_data(rows: int, folder: Path) -> tuple[Path, Path]:
    """Write ``reference.parquet`` and ``current.parquet`` (once per size) and return their paths."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    reference, current = folder / f"reference-{rows}.parquet", folder / f"current-{rows}.parquet"
    if reference.exists() and current.exists():
        return reference, current
    rng = np.random.default_rng(2026)
    letters = np.array([f"c{i:02d}" for i in range(5 + CATEGORICAL)])
    for path, shifted in ((reference, False), (current, True)):
        columns: dict[str, Any] = {}
        for i in range(NUMERIC):
            shift = 0.2 + 0.1 * i if shifted and i < SHIFTED_NUMERIC else 0.0
            columns[f"num{i:02d}"] = rng.normal(10.0 * i, 1.0 + i % 3, rows) + shift * (1.0 + i % 3)
        for i in range(CATEGORICAL):
            weights = np.linspace(1.0, 2.0, 5 + i)
            if shifted and i < SHIFTED_CATEGORICAL:
                weights = weights[::-1] ** 2
            columns[f"cat{i}"] = pa.array(letters[rng.choice(5 + i, rows, p=weights / weights.sum())])
        pq.write_table(pa.table(columns), path.with_suffix(".tmp"))
        path.with_suffix(".tmp").rename(path)
    return reference, current


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def slipway_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Slipway's side: read both files, prepare the reference (or read it stored), test every column."""
    from slipway.blobs.store import BlobStore
    from slipway.monitoring.columns import ParquetColumns
    from slipway.monitoring.drift import compare
    from slipway.monitoring.reference import Reference
    from slipway.monitoring.reference_cache import ReferenceCache
    from slipway.monitoring.spec import DriftSpec

    drift_spec = DriftSpec.build(FORCED if spec["forced"] else None)
    if spec.get("cache"):
        cache = ReferenceCache(BlobStore(spec["cache"] + "/blobs"), Path(spec["cache"]) / "refs")
        if spec.get("prepare_only"):
            cache.put("reference", Reference.of(ParquetColumns(spec["reference"])))
            return {"prepared": True}
        started = time.perf_counter()
        reference = cache.get("reference")
        assert reference is not None
    else:
        started = time.perf_counter()
        reference = Reference.of(ParquetColumns(spec["reference"]))
    report = compare(reference, ParquetColumns(spec["current"]), drift_spec)
    seconds = time.perf_counter() - started
    columns = {c.column: [c.method, c.score, c.drifted] for c in report.columns}
    return {"seconds": seconds, "peak_mb": _peak_mb(), "columns": columns, "drifted": len(report.drifted_columns)}


def evidently_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Evidently's side: read both files with pandas and run ``DataDriftPreset``."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    started = time.perf_counter()
    reference, current = pd.read_parquet(spec["reference"]), pd.read_parquet(spec["current"])
    numeric = [c for c in reference.columns if c.startswith("num")]
    definition = DataDefinition(numerical_columns=numeric,
                                categorical_columns=[c for c in reference.columns if c.startswith("cat")])
    preset = (DataDriftPreset(num_method=FORCED["numeric"], cat_method=FORCED["categorical"]) if spec["forced"]
              else DataDriftPreset())
    snapshot = Report([preset]).run(Dataset.from_pandas(current, data_definition=definition),
                                    Dataset.from_pandas(reference, data_definition=definition))
    seconds = time.perf_counter() - started
    columns = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            score = float(metric["value"])
            columns[config["column"]] = [config["method"], score, score >= float(config["threshold"])]
    return {"seconds": seconds, "peak_mb": _peak_mb(), "columns": columns}


WORKERS = {"slipway": slipway_worker, "evidently": evidently_worker}


def _run(python: Path, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    import json

    result = _peer.run_json(python, [__file__, "--worker", name, "--spec", json.dumps(spec)], timeout=7200)
    return {**result.payload, "peak_rss_mb": result.peak_rss_mb}


def _checks(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    problems = []
    for column, (_, score, drifted) in ours["columns"].items():
        peer = theirs["columns"].get(column)
        if peer is None or peer[2] != drifted or abs(peer[1] - score) > 1e-6 * max(1.0, abs(score)):
            problems.append(f"{column}: slipway {ours['columns'][column]} vs evidently {peer}")
    expected = {f"num{i:02d}" for i in range(SHIFTED_NUMERIC)} | {f"cat{i}" for i in range(SHIFTED_CATEGORICAL)}
    found = {c for c, (_, _, drifted) in ours["columns"].items() if drifted}
    if found != expected:
        problems.append(f"drifted {sorted(found)}, shifted {sorted(expected)}")
    for problem in problems:
        _peer.log(f"check failed: {problem}")
    return "ok" if not problems and len(ours["columns"]) == NUMERIC + CATEGORICAL else "failed"


def _duckdb_scan(current: Path) -> float | None:
    try:
        import duckdb
    except ImportError:
        return None
    import pyarrow.parquet as pq

    names = pq.read_schema(current).names
    sums = ", ".join(f'sum("{n}")' if n.startswith("num") else f'count(DISTINCT "{n}")' for n in names)
    started = time.perf_counter()
    duckdb.execute(f"SELECT count(*), {sums} FROM read_parquet('{current}')").fetchall()
    return time.perf_counter() - started


def main() -> None:
    args = _peer.argument_parser(__doc__ or "").parse_args()
    if args.worker:
        _peer.worker_main(WORKERS, args.worker, args.spec)
        return
    rows = 100_000 if args.quick else 1_000_000
    rounds = args.rounds or 3
    folder = _peer.BENCH_DIR / "drift-data"
    folder.mkdir(parents=True, exist_ok=True)
    reference, current = make_data(rows, folder)
    evidently = EVIDENTLY.ensure()
    base = {"reference": str(reference), "current": str(current)}
    forced_ours = _run(_peer.SLIPWAY_PYTHON, "slipway", {**base, "forced": True})
    forced_theirs = _run(evidently, "evidently", {**base, "forced": True})
    checks = _checks(forced_ours, forced_theirs)
    with tempfile.TemporaryDirectory(dir=_peer.BENCH_DIR) as cache:
        _run(_peer.SLIPWAY_PYTHON, "slipway", {**base, "forced": False, "cache": cache, "prepare_only": True})
        results = _peer.alternate(rounds, {
            "slipway": lambda _: _run(_peer.SLIPWAY_PYTHON, "slipway", {**base, "forced": False}),
            "slipway_cached": lambda _: _run(_peer.SLIPWAY_PYTHON, "slipway", {**base, "forced": False, "cache": cache}),
            "evidently": lambda _: _run(evidently, "evidently", {**base, "forced": False}),
        }, warmup=0)
    default_checks = "ok" if all(
        _checks(ours, theirs) == "ok" for ours, theirs in zip(results["slipway"], results["evidently"], strict=True)
    ) else "failed"
    ours_s = _peer.median([r["seconds"] for r in results["slipway"]])
    cached_s = _peer.median([r["seconds"] for r in results["slipway_cached"]])
    theirs_s = _peer.median([r["seconds"] for r in results["evidently"]])
    ours_mb = max(r["peak_rss_mb"] for r in results["slipway"])
    theirs_mb = max(r["peak_rss_mb"] for r in results["evidently"])
    both = "ok" if checks == default_checks == "ok" else "failed"
    scan = _duckdb_scan(current)
    size = {"rows": rows, "columns": NUMERIC + CATEGORICAL}
    case = f"drift_{_peer.size_label(rows)}_x_{NUMERIC + CATEGORICAL}"  # drift_1m_x_50 at full size
    _peer.emit(WORKLOAD, case, ours_s, theirs_s, "s", theirs_s / ours_s, EVIDENTLY.version, both, **size)
    _peer.emit(WORKLOAD, f"{case}_memory", ours_mb, theirs_mb, "MiB", theirs_mb / ours_mb, EVIDENTLY.version,
               both, **size)
    _peer.emit(WORKLOAD, f"{case}_cached_reference", cached_s, theirs_s, "s", theirs_s / cached_s,
               EVIDENTLY.version, both, duckdb_scan_current_s=None if scan is None else round(scan, 4),
               cached_peak_rss_mb=round(max(r["peak_rss_mb"] for r in results["slipway_cached"]), 1), **size)


if __name__ == "__main__":
    main()
