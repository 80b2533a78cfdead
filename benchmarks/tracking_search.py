"""Benchmark ``tracking_search``: search 20,000 runs x 10 params x 10 metrics, Slipway vs MLflow.

Case ``search_<N>_runs``, named by the runs searched (``search_20k_runs``; ``search_2k_runs`` with
``--quick``): filter on a metric and a param, order by a metric, top 100::

    filter   metrics.m0 > 0.5 and params.p0 = 'rf'      (about 1 run in 20 matches)
    order    metrics.m1 DESC
    limit    100

Slipway answers through ``ws.tracking.search_runs``, MLflow through ``MlflowClient.search_runs``,
each on its own SQLite store holding the same runs (same names, params and metric values, from
one seeded generator). Loading is set-up, not measured: Slipway through its tracking backend
(``create_run`` + ``log_batch``), MLflow through its client's ``create_run`` + ``log_batch``. MLflow
loads about 20 runs/s, so the loaded stores are cached under ``.bench/data/`` (a marker file is
written last, so a half-loaded store is never reused).

Each round runs each side in a fresh worker process that issues the query a number of times
after warm-up queries; sides alternate. Reported: the p50 latency of each side over all measured
queries, and the ratio. ``checks`` is ``ok`` only if both return the same 100 run names in the same
order, every time. Run::

    .venv/bin/python benchmarks/tracking_search.py [--quick] [--rounds N]

``--quick`` searches 2,000 runs instead of 20,000 (MLflow's load would take ~15 minutes).
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peer  # noqa: E402 - after the path set-up above

WORKLOAD = "tracking_search"


def case_name(count: int) -> str:
    """The case as measured: ``search_20k_runs`` for 20,000 runs, ``search_2500_runs`` for 2,500."""
    return f"search_{_peer.size_label(count)}_runs"
MLFLOW = _peer.Peer("mlflow", ["mlflow==3.17.2"])
DATA_VERSION = 1  # bump when the generated runs change, so old caches are not reused
EXPERIMENT = "search"
FILTER = "metrics.m0 > 0.5 and params.p0 = 'rf'"
ORDER_BY = ["metrics.m1 DESC"]
TOP = 100
MODELS = ["rf", "gbm", "svm", "lr", "knn", "mlp", "xgb", "lgbm", "ridge", "lasso"]


def generated_runs(count: int) -> Iterator[tuple[str, dict[str, str], dict[str, float]]]:
    """(name, params, metrics) of every run, the same on both sides (seeded)."""
    rng = random.Random(20_000)
    for index in range(count):
        params = {"p0": MODELS[rng.randrange(len(MODELS))]}
        params.update({f"p{j}": f"value-{rng.randrange(50)}" for j in range(1, 10)})
        metrics = {f"m{j}": rng.random() for j in range(10)}
        yield f"run-{index:05d}", params, metrics


def cache_dir(side: str, count: int) -> Path:
    """Where a loaded store is kept. Slipway's is also keyed on its schema (the migration files),
    so a new index or column means a fresh load rather than a store missing it."""
    key = f"tracking_search-v{DATA_VERSION}-{side}-{count}"
    if side == "slipway":
        import hashlib

        migrations = _peer.REPO / "src" / "slipway" / "store" / "migrations" / "versions"
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(migrations.glob("*.py"))))
        key += "-" + digest.hexdigest()[:10]
    return _peer.BENCH_DIR / "data" / key


# -- Slipway side (the repository's venv) ----------------------------------------------------------
def slipway_load(spec: dict[str, Any]) -> dict[str, Any]:
    import slipway

    ws = slipway.connect(spec["home"])
    backend = ws.backend("tracking")
    started = time.perf_counter()
    now = int(time.time() * 1000)
    for name, params, metrics in generated_runs(spec["runs"]):
        run = backend.create_run(experiment=EXPERIMENT, name=name)
        backend.log_batch(run.id, metrics=[(k, v, 0, now) for k, v in metrics.items()], params=params)
        if run.name.endswith("999"):
            _peer.log(f"slipway: {run.name} loaded")
    return {"seconds": time.perf_counter() - started}


def slipway_search(spec: dict[str, Any]) -> dict[str, Any]:
    import slipway

    ws = slipway.connect(spec["home"])
    tracking = ws.tracking

    def query() -> list[str]:
        page = tracking.search_runs(FILTER, experiments=[EXPERIMENT], order_by=ORDER_BY, max_results=TOP)
        return [run.name for run in page.runs]

    return _time_queries(query, spec)


# -- MLflow side (.bench/venv-mlflow) ----------------------------------------------------------------
def _mlflow_client(spec: dict[str, Any]) -> Any:
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    os.chdir(spec["home"])
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{spec['home']}/mlflow.db")


def mlflow_load(spec: dict[str, Any]) -> dict[str, Any]:
    from mlflow.entities import Metric, Param

    client = _mlflow_client(spec)
    experiment_id = client.create_experiment(EXPERIMENT)
    # Loading only: WAL makes each of MLflow's many small commits cheaper. The journal mode is
    # put back to SQLite's default (what MLflow creates) before the store is searched.
    _journal_mode(spec, "WAL")
    started = time.perf_counter()
    now = int(time.time() * 1000)
    for index, (name, params, metrics) in enumerate(generated_runs(spec["runs"])):
        run_id = client.create_run(experiment_id, run_name=name).info.run_id
        client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                         params=[Param(k, v) for k, v in params.items()])
        if index % 1000 == 999:
            _peer.log(f"mlflow: {index + 1} runs loaded")
    return {"seconds": time.perf_counter() - started}


def _journal_mode(spec: dict[str, Any], mode: str) -> None:
    import sqlite3

    conn = sqlite3.connect(f"{spec['home']}/mlflow.db")
    try:
        conn.execute(f"PRAGMA journal_mode={mode}")
    finally:
        conn.close()


def mlflow_search(spec: dict[str, Any]) -> dict[str, Any]:
    client = _mlflow_client(spec)
    experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id

    def query() -> list[str]:
        found = client.search_runs([experiment_id], filter_string=FILTER, order_by=ORDER_BY, max_results=TOP)
        return [run.info.run_name for run in found]

    return _time_queries(query, spec)


def _time_queries(query: Any, spec: dict[str, Any]) -> dict[str, Any]:
    for _ in range(spec["warmup"]):
        names = query()
    latencies, cpu = [], []
    for _ in range(spec["queries"]):
        started, started_cpu = time.perf_counter(), time.process_time()
        got = query()
        latencies.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        if got != names:
            names = ["<answers differed between repetitions>"]
    # CPU time too: on a shared machine wall time includes waiting for a core.
    return {"latencies_ms": latencies, "cpu_ms": cpu, "names": names, "p50_ms": _peer.median(latencies)}


WORKERS = {"slipway_load": slipway_load, "slipway_search": slipway_search,
           "mlflow_load": mlflow_load, "mlflow_search": mlflow_search}


# -- the driver ----------------------------------------------------------------------------------------
def ensure_loaded(side: str, python: Path, count: int) -> Path:
    """The cached store for ``side`` with ``count`` runs, loading it first if needed."""
    home = cache_dir(side, count)
    marker = home / "loaded"
    if marker.exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    _peer.log(f"loading {count} runs into {side} (set-up, cached in {home})")
    result = _peer.run_json(python, [__file__, "--worker", f"{side}_load", "--spec", _json({"home": str(home), "runs": count})],
                            env={"SLIPWAY_SERVER_URL": "", "SLIPWAY_HOME": str(home)}, timeout=6 * 3600)
    _peer.log(f"{side} loaded {count} runs in {result.payload['seconds']:.0f} s")
    if side == "mlflow":
        # Back to SQLite's default journal, now that MLflow's connections are closed (see mlflow_load).
        _journal_mode({"home": str(home)}, "DELETE")
    marker.write_text(str(result.payload["seconds"]))
    return home


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def main() -> None:
    parser = _peer.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="runs to search (default 20,000; 2,000 with --quick)")
    parser.add_argument("--load-only", action="store_true", help="only build the cached stores")
    args = parser.parse_args()
    if args.worker:
        _peer.worker_main(WORKERS, args.worker, args.spec)
        return
    count = args.runs or (2_000 if args.quick else 20_000)
    rounds = args.rounds or 3
    # MLflow takes seconds per query at 20,000 runs; 10 per round x 3 rounds is 30 samples a side.
    queries = 10
    MLFLOW.ensure()
    # MLflow first: it is the slow one to load.
    homes = {"mlflow": ensure_loaded("mlflow", MLFLOW.python, count),
             "slipway": ensure_loaded("slipway", _peer.SLIPWAY_PYTHON, count)}
    if args.load_only:
        return
    pythons = {"slipway": _peer.SLIPWAY_PYTHON, "mlflow": MLFLOW.python}
    results: dict[str, list[dict[str, Any]]] = {"slipway": [], "mlflow": []}

    def side(name: str) -> Any:
        def one_round(number: int) -> dict[str, Any]:
            spec = {"home": str(homes[name]), "warmup": 2, "queries": queries}
            result = _peer.run_json(pythons[name], [__file__, "--worker", f"{name}_search", "--spec", _json(spec)],
                                    env={"SLIPWAY_SERVER_URL": "", "SLIPWAY_HOME": str(homes[name])})
            payload = {**result.payload, "peak_rss_mb": result.peak_rss_mb}
            if number >= 0:
                results[name].append(payload)
            return {"p50_ms": payload["p50_ms"], "found": len(payload["names"]), "peak_rss_mb": result.peak_rss_mb}
        return one_round

    _peer.alternate(rounds, {"slipway": side("slipway"), "mlflow": side("mlflow")})
    ours = _peer.median([ms for r in results["slipway"] for ms in r["latencies_ms"]])
    theirs = _peer.median([ms for r in results["mlflow"] for ms in r["latencies_ms"]])
    answers = {tuple(r["names"]) for r in results["slipway"] + results["mlflow"]}
    expected, matched = expected_names(count)
    if len(answers) == 1 and list(next(iter(answers))) == expected:
        checks = "ok"
    else:
        checks = f"FAILED: {len(answers)} different answers; expected starts {expected[:3]}"
    _peer.emit(WORKLOAD, case_name(count), ours, theirs, "ms p50", theirs / ours, MLFLOW.version, checks,
               runs=count, matched=matched, goal_p50_ms=50,
               slipway_cpu_p50_ms=round(_peer.median([ms for r in results["slipway"] for ms in r["cpu_ms"]]), 2),
               peer_cpu_p50_ms=round(_peer.median([ms for r in results["mlflow"] for ms in r["cpu_ms"]]), 2),
               slipway_peak_rss_mb=round(max(r["peak_rss_mb"] for r in results["slipway"]), 1),
               peer_peak_rss_mb=round(max(r["peak_rss_mb"] for r in results["mlflow"]), 1))


def expected_names(count: int) -> tuple[list[str], int]:
    """The right answer (top names, how many runs match), computed in plain Python."""
    hits = [(metrics["m1"], name) for name, params, metrics in generated_runs(count)
            if metrics["m0"] > 0.5 and params["p0"] == "rf"]
    return [name for _, name in sorted(hits, reverse=True)[:TOP]], len(hits)


if __name__ == "__main__":
    main()
