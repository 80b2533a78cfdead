"""Benchmark ``pit_join``: point-in-time training sets, Slipway vs Feast 0.67's offline stores.

Cases (BENCHMARKS.md):

- ``pit_10m_x_1m_vs_feast_duckdb`` — 10,000,000 feature rows (500,000 customers, 30 days, 5
  float features, a created timestamp) joined to 1,000,000 entity rows with a 7-day TTL. Slipway:
  ``ws.features.training_set([...], "entities.parquet").to_pandas()`` on an applied repository;
  Feast: ``get_historical_features(...).to_df()`` with ``offline_store: duckdb`` on the same
  Parquet files. Wall time and peak RSS of each side's own process (reading the entity file
  included). ``checks`` is ``ok`` when both return every entity row, the same number of non-null
  values, and the same checksum of (entity row, value) pairs.
- ``pit_10m_x_1m_memory`` — the peak RSS of those processes (``ratio`` = Feast ÷ Slipway).
- ``pit_10m_x_1m_vs_feast_file`` — the same against Feast's default file (pandas/dask) store, on
  a tenth of the entity rows (it is too slow past that); Feast's file store drops entity rows that
  have no feature in TTL, so its ``checks`` compares only the rows it kept and reports the drop.
- ``duckdb_asof_limit`` — DuckDB's bare ASOF JOIN on the same files (no TTL, no ties), the limit.

``--feature-rows``/``--entity-rows`` scale the case down on a small machine (say so when you
report it); ``--quick`` is 1,000,000 x 100,000. Run::

    .venv/bin/python benchmarks/pit_join.py [--quick] [--rounds N] [--feature-rows N --entity-rows N]
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

WORKLOAD = "pit_join"
FEAST = _peer.Peer("feast", ["feast[duckdb]==0.67.0"])
FEATURES = [f"f{i}" for i in range(5)]
TTL_DAYS = 7


def make_data(feature_rows: int, entity_rows: int, folder: Path) -> tuple[Path, Path]:
    """``features-N.parquet`` and ``entities-M.parquet`` (written once per size)."""
    import numpy as np
    import pandas as pd

    features, entities = folder / f"features-{feature_rows}.parquet", folder / f"entities-{entity_rows}.parquet"
    customers = max(1, feature_rows // 20)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    rng = np.random.default_rng(18)
    if not features.exists():
        seconds = rng.integers(0, 30 * 86400, feature_rows)
        frame = pd.DataFrame({"customer_id": rng.integers(0, customers, feature_rows),
                              "event_timestamp": start + pd.to_timedelta(seconds, unit="s"),
                              "created": start + pd.to_timedelta(seconds + rng.integers(0, 3600, feature_rows), unit="s")})
        for name in FEATURES:
            frame[name] = rng.normal(size=feature_rows)
        frame.to_parquet(features, row_group_size=1_000_000)
    if not entities.exists():
        pd.DataFrame({"customer_id": rng.integers(0, int(customers * 1.05), entity_rows),  # some never seen
                      "event_timestamp": start + pd.to_timedelta(rng.integers(0, 35 * 86400, entity_rows), unit="s"),
                      "row": np.arange(entity_rows)}).to_parquet(entities)
    return features, entities


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _summary(frame: Any) -> dict[str, Any]:
    """What both sides must agree on: rows, non-nulls, a checksum of (entity row, value)."""
    import numpy as np

    values = frame["f0"].to_numpy(dtype="float64", na_value=np.nan)
    rows = frame["row"].to_numpy(dtype="float64")
    present = ~np.isnan(values)
    return {"rows": len(frame), "non_null": int(present.sum()),
            "checksum": float(np.sum(rows[present] * values[present]))}


def slipway_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import pandas  # noqa: F401 - imported before the clock starts, as on Feast's side

    import slipway

    home = Path(spec["scratch"]) / "slipway"
    repo = home / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "features.yaml").write_text(f"""
kind: entity
name: customer
join_keys: [customer_id]
---
kind: feature_view
name: spend
entities: [customer]
source: {{path: {spec['features']}}}
created_timestamp: created
ttl: {TTL_DAYS}d
features: {{{', '.join(f'{n}: float64' for n in FEATURES)}}}
""")
    ws = slipway.connect(str(home / "home"))
    ws.features.apply(repo)
    started = time.perf_counter()
    frame = ws.features.training_set(["spend"], spec["entities"]).to_pandas()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": _peak_mb(), **_summary(frame)}


FEAST_CONFIG = """project: bench
registry: {folder}/registry.db
provider: local
offline_store:
  type: {store}
online_store:
  type: sqlite
  path: {folder}/online.db
entity_key_serialization_version: 3
"""


def feast_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import datetime as dt

    import pandas as pd
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.types import Float64, Int64

    folder = Path(spec["scratch"]) / f"feast-{spec['store']}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feature_store.yaml").write_text(FEAST_CONFIG.format(folder=folder, store=spec["store"]))
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=Int64.to_value_type())
    source = FileSource(path=spec["features"], timestamp_field="event_timestamp", created_timestamp_column="created")
    view = FeatureView(name="spend", entities=[customer], ttl=dt.timedelta(days=TTL_DAYS), source=source,
                       schema=[Field(name=n, dtype=Float64) for n in FEATURES])
    store = FeatureStore(repo_path=str(folder))
    store.apply([customer, view])
    started = time.perf_counter()
    entities = pd.read_parquet(spec["entities"])
    frame = store.get_historical_features(entity_df=entities, features=[f"spend:{n}" for n in FEATURES]).to_df()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": _peak_mb(), **_summary(frame)}


def duckdb_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    started = time.perf_counter()
    table = duckdb.sql(f"""SELECT e.*, f.f0 FROM read_parquet('{spec['entities']}') e
        ASOF LEFT JOIN read_parquet('{spec['features']}') f
        ON e.customer_id = f.customer_id AND e.event_timestamp >= f.event_timestamp""").to_arrow_table()
    return {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(), "rows": table.num_rows}


WORKERS = {"slipway": slipway_worker, "feast": feast_worker, "duckdb": duckdb_worker}


def _run(python: Path, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    import json

    result = _peer.run_json(python, [__file__, "--worker", name, "--spec", json.dumps(spec)], timeout=7200)
    return {**result.payload, "peak_rss_mb": result.peak_rss_mb}


def _agree(ours: dict[str, Any], theirs: dict[str, Any], same_rows: bool = True) -> bool:
    close = abs(ours["checksum"] - theirs["checksum"]) <= 1e-6 * max(1.0, abs(ours["checksum"]))
    return close and ours["non_null"] == theirs["non_null"] and (not same_rows or ours["rows"] == theirs["rows"])


def main() -> None:
    parser = _peer.argument_parser(__doc__ or "")
    parser.add_argument("--feature-rows", type=int, default=None)
    parser.add_argument("--entity-rows", type=int, default=None)
    args = parser.parse_args()
    if args.worker:
        _peer.worker_main(WORKERS, args.worker, args.spec)
        return
    feature_rows = args.feature_rows or (1_000_000 if args.quick else 10_000_000)
    entity_rows = args.entity_rows or (100_000 if args.quick else 1_000_000)
    rounds = args.rounds or 3
    folder = _peer.BENCH_DIR / "pit-data"
    folder.mkdir(parents=True, exist_ok=True)
    features, entities = make_data(feature_rows, entity_rows, folder)
    feast = FEAST.ensure()
    size = {"feature_rows": feature_rows, "entity_rows": entity_rows, "ttl_days": TTL_DAYS}
    with tempfile.TemporaryDirectory(dir=_peer.BENCH_DIR) as scratch:
        base = {"features": str(features), "entities": str(entities), "scratch": scratch}
        results = _peer.alternate(rounds, {
            "slipway": lambda _: _run(_peer.SLIPWAY_PYTHON, "slipway", base),
            "feast_duckdb": lambda _: _run(feast, "feast", {**base, "store": "duckdb"}),
        })
        limit = _run(_peer.SLIPWAY_PYTHON, "duckdb", base)
        ours_s = _peer.median([r["seconds"] for r in results["slipway"]])
        theirs_s = _peer.median([r["seconds"] for r in results["feast_duckdb"]])
        case = f"pit_{_peer.size_label(feature_rows)}_x_{_peer.size_label(entity_rows)}"  # pit_10m_x_1m at full size
        checks = "ok" if all(r["rows"] == entity_rows for r in results["slipway"] + results["feast_duckdb"]) and all(
            _agree(a, b) for a, b in zip(results["slipway"], results["feast_duckdb"], strict=True)) else "failed"
        ours_mb = max(r["peak_rss_mb"] for r in results["slipway"])
        theirs_mb = max(r["peak_rss_mb"] for r in results["feast_duckdb"])
        _peer.emit(WORKLOAD, f"{case}_vs_feast_duckdb", ours_s, theirs_s, "s", theirs_s / ours_s, FEAST.version,
                   checks, slipway_peak_rss_mb=round(ours_mb, 1), peer_peak_rss_mb=round(theirs_mb, 1),
                   duckdb_asof_limit_s=round(limit["seconds"], 4), share_of_limit=round(limit["seconds"] / ours_s, 3),
                   **size)
        _peer.emit(WORKLOAD, f"{case}_memory", ours_mb, theirs_mb, "MiB", theirs_mb / ours_mb, FEAST.version,
                   checks, **size)
        small = max(1, entity_rows // 10)
        _, small_entities = make_data(feature_rows, small, folder)
        file_base = {**base, "entities": str(small_entities)}
        ours_file = _run(_peer.SLIPWAY_PYTHON, "slipway", file_base)
        theirs_file = _run(feast, "feast", {**file_base, "store": "file"})
        dropped = small - theirs_file["rows"]
        file_checks = "ok" if ours_file["rows"] == small and _agree(ours_file, theirs_file, same_rows=False) else "failed"
        _peer.emit(WORKLOAD, f"{case}_vs_feast_file", ours_file["seconds"], theirs_file["seconds"], "s",
                   theirs_file["seconds"] / ours_file["seconds"], FEAST.version, file_checks,
                   peer_dropped_entity_rows=dropped, slipway_peak_rss_mb=round(ours_file["peak_rss_mb"], 1),
                   peer_peak_rss_mb=round(theirs_file["peak_rss_mb"], 1), feature_rows=feature_rows, entity_rows=small,
                   rounds=1)


if __name__ == "__main__":
    main()
