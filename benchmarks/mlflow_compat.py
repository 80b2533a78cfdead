"""Benchmark ``mlflow_compat``: the same MLflow client code against ``slipway server`` and ``mlflow server``.

Both servers run on SQLite, each from its own subprocess (one worker process each: several
uvicorn workers of ``mlflow server`` get killed by their health check on a loaded 2-core machine); the client code runs in MLflow's venv
(``MlflowClient``, pinned below) with only ``MLFLOW_TRACKING_URI`` (and a token for Slipway) changed.

- ``mlflow_client_log_batch`` — one run logs 20 metrics x 1,000 steps with ``log_batch``, 1,000
  points per call (points/s). Checked: every point of one key reads back through the same server.
- ``mlflow_client_search_20k`` — 20,000 runs x 10 params x 10 metrics; ``search_runs`` filtering on
  a metric and a param, ordered by a metric, top 100 (p50 latency). Checked: the same 100 run
  names in the same order on both sides, every time.
- ``mlflow_client_metric_history`` — ``get_metric_history`` of one metric with 100,000 points
  (p50 latency). Checked: both return 100,000 points with the same sum of values. Also reported:
  the servers' part (the same pages fetched as bytes, ``*_wire_ms``) and, from one more
  instrumented call per round, where the client's time went (``*_client_split_ms``: HTTP,
  ``json.loads``, protobuf ``ParseDict``, ``Metric.from_proto``, the rest).
- ``import_mlflow_1k_runs`` — ``slipway import mlflow`` of an MLflow database of 1,000 runs x 10
  metrics x 1,000 steps (runs/s). MLflow has no importer of its own; the peer is the copy its users
  write (and mlflow-export-import does): read each run with ``MlflowClient`` from the database and
  write it to an ``mlflow server`` with ``log_batch``, timed on a sample of runs. Checked: Slipway
  imported every run and every point.

Set-up (not measured): the MLflow databases are created by MLflow (its schema) and filled with
plain SQL inserts into its documented tables (loading 20,000 runs through MLflow's client takes
about 15 minutes); ``mlflow server`` serves a copy, and ``slipway server`` serves a store made by
importing the same database. Run::

    .venv/bin/python benchmarks/mlflow_compat.py [--quick] [--rounds N] [--case CASE]

``--quick``: 10 metrics x 1,000 steps per log_batch run, 2,000 runs to search, 100 runs to import.
The peer's copy is timed on 5 runs (3 with ``--quick``): about 2 runs/s on a loaded machine.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peer  # noqa: E402 - after the path set-up above
from _mlflow_data import T0, fill_mlflow_db, import_runs, mlflow_uri, search_runs  # noqa: E402

WORKLOAD = "mlflow_compat"
CASES = ("mlflow_client_log_batch", "mlflow_client_search_20k", "mlflow_client_metric_history", "import_mlflow_1k_runs")
MLFLOW = _peer.Peer("mlflow", ["mlflow==3.17.2", "psycopg2-binary==2.9.10"])
FILTER = "metrics.m0 > 0.5 and params.p0 = 'rf'"
CACHE = _peer.BENCH_DIR / "mlflow_compat"


# -- workers: MLflow client code (MLflow's venv) ---------------------------------------------------
def _client(spec: dict[str, Any]) -> Any:
    import os

    from mlflow import MlflowClient

    if spec.get("token"):
        os.environ["MLFLOW_TRACKING_TOKEN"] = spec["token"]
    return MlflowClient(spec["url"])


def client_log_batch(spec: dict[str, Any]) -> dict[str, Any]:
    from mlflow.entities import Metric

    client = _client(spec)
    name = f"ingest-{uuid.uuid4().hex[:8]}"
    run = client.create_run(client.create_experiment(name), run_name="ingest")
    rng = random.Random(1)
    points = [Metric(f"m{k}", rng.random(), T0 + s, s) for s in range(spec["steps"]) for k in range(spec["metrics"])]
    started = time.perf_counter()
    for i in range(0, len(points), 1000):
        client.log_batch(run.info.run_id, metrics=points[i:i + 1000])
    seconds = time.perf_counter() - started
    client.set_terminated(run.info.run_id)
    stored = len(client.get_metric_history(run.info.run_id, "m0"))
    return {"seconds": seconds, "points": len(points), "stored_m0": stored}


def _timed(call: Any, repeat: int, warmup: int = 2) -> tuple[list[float], Any]:
    result = None
    for _ in range(warmup):
        result = call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


def _wire(spec: dict[str, Any], method: str, path: str, body: dict[str, Any]) -> int:
    """The same request as the client's, read as bytes without decoding: the server's part of a
    call (every page, for a paged answer); returns the bytes received."""
    import requests

    headers = {"Authorization": f"Bearer {spec['token']}"} if spec.get("token") else {}
    received, token = 0, None
    while True:
        fields = {**body, **({"page_token": token} if token else {})}
        if method == "GET":
            response = requests.get(spec["url"] + path, params=fields, headers=headers, timeout=600)
        else:
            response = requests.post(spec["url"] + path, json=fields, headers=headers, timeout=600)
        response.raise_for_status()
        received += len(response.content)
        # only a paged answer needs its token: find it without decoding the whole body
        tail = response.content[-200:]
        token = tail.split(b'"next_page_token"')[1].split(b'"')[1].decode() if b'"next_page_token"' in tail else None
        if token is None or method == "POST":
            return received


def client_search(spec: dict[str, Any]) -> dict[str, Any]:
    client = _client(spec)
    exp = client.get_experiment_by_name("search")
    times, runs = _timed(lambda: client.search_runs([exp.experiment_id], FILTER, max_results=100,
                                                    order_by=["metrics.m1 DESC"]), spec["repeat"])
    body = {"experiment_ids": [exp.experiment_id], "filter": FILTER, "max_results": 100, "order_by": ["metrics.m1 DESC"],
            "run_view_type": "ACTIVE_ONLY"}
    wire, _ = _timed(lambda: _wire(spec, "POST", "/api/2.0/mlflow/runs/search", body), spec["repeat"])
    return {"p50_ms": statistics.median(times), "wire_ms": statistics.median(wire), "names": [r.info.run_name for r in runs]}


def _client_split(call: Any) -> dict[str, float]:
    """One more call with MLflow's client instrumented: milliseconds in HTTP (the server's part and
    the transfer), in ``json.loads``, in protobuf ``ParseDict`` and in ``Metric.from_proto`` (the
    client's decoding), and the rest."""
    import json

    import mlflow.utils.rest_utils as rest_utils
    import requests
    from mlflow.entities import Metric

    spent: dict[str, float] = {}

    def timed(label: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - began
        return wrapper

    saved = (requests.Session.request, json.loads, rest_utils.parse_dict, Metric.__dict__["from_proto"])
    requests.Session.request = timed("http", saved[0])
    json.loads = timed("json_loads", saved[1])
    rest_utils.parse_dict = timed("parse_dict", saved[2])
    Metric.from_proto = classmethod(timed("from_proto", saved[3].__func__))
    try:
        began = time.perf_counter()
        call()
        total = time.perf_counter() - began
    finally:
        requests.Session.request, json.loads, rest_utils.parse_dict = saved[:3]
        Metric.from_proto = saved[3]
    split = {k: round(v * 1000, 1) for k, v in spent.items()}
    split["other"] = round(total * 1000 - sum(split.values()), 1)
    return split


def client_history(spec: dict[str, Any]) -> dict[str, Any]:
    client = _client(spec)
    exp = client.get_experiment_by_name("history")
    [run] = client.search_runs([exp.experiment_id], max_results=1)
    times, points = _timed(lambda: client.get_metric_history(run.info.run_id, "loss"), spec["repeat"], spec["warmup"])
    body = {"run_id": run.info.run_id, "run_uuid": run.info.run_id, "metric_key": "loss", "max_results": 25000}
    wire, _ = _timed(lambda: _wire(spec, "GET", "/api/2.0/mlflow/metrics/get-history", body), spec["repeat"], 0)
    split = _client_split(lambda: client.get_metric_history(run.info.run_id, "loss"))
    return {"p50_ms": statistics.median(times), "wire_ms": statistics.median(wire), "points": len(points),
            "sum": round(sum(p.value for p in points), 6), "split_ms": split}


def mlflow_copy(spec: dict[str, Any]) -> dict[str, Any]:
    """Copy a sample of runs from an MLflow database to an MLflow server with MLflow's client."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    source, target = MlflowClient(spec["source"]), MlflowClient(spec["url"])
    exp = source.get_experiment_by_name("import")
    runs = source.search_runs([exp.experiment_id], max_results=spec["sample"], order_by=["attributes.start_time"])
    target_exp = target.create_experiment(f"copy-{uuid.uuid4().hex[:8]}")
    started = time.perf_counter()
    points = 0
    for run in runs:
        new = target.create_run(target_exp, start_time=run.info.start_time, run_name=run.info.run_name)
        history = [Metric(m.key, m.value, m.timestamp, m.step) for key in run.data.metrics
                   for m in source.get_metric_history(run.info.run_id, key)]
        params = [Param(k, v) for k, v in run.data.params.items()]
        tags = [RunTag(k, v) for k, v in run.data.tags.items() if k != "mlflow.runName"]
        target.log_batch(new.info.run_id, params=params, tags=tags)
        for i in range(0, len(history), 1000):
            target.log_batch(new.info.run_id, metrics=history[i:i + 1000])
        target.set_terminated(new.info.run_id, run.info.status, run.info.end_time)
        points += len(history)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "runs": len(runs), "points": points}


def mlflow_schema(spec: dict[str, Any]) -> dict[str, Any]:
    """Let MLflow create its database (its own migrations) and the experiments named in ``spec``."""
    from mlflow import MlflowClient

    client = MlflowClient(spec["uri"])
    return {name: client.create_experiment(name) for name in spec["experiments"]}


# -- worker: Slipway (the repository's venv) --------------------------------------------------------
def slipway_import(spec: dict[str, Any]) -> dict[str, Any]:
    import slipway
    from slipway.importers.mlflow import import_mlflow

    ws = slipway.connect(spec["home"])
    started = time.perf_counter()
    summary = import_mlflow(ws, spec["uri"])
    seconds = time.perf_counter() - started
    ws.close()
    return {"seconds": seconds, "runs": summary.imported.get("runs", 0), "points": summary.imported.get("metric_points", 0),
            "skipped": len(summary.skipped)}


WORKERS = {f.__name__: f for f in (client_log_batch, client_search, client_history, mlflow_copy, mlflow_schema,
                                   slipway_import)}


def worker(python: Path, name: str, spec: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    import json

    result = _peer.run_json(python, [__file__, "--worker", name, "--spec", json.dumps(spec)],
                            env={"GIT_PYTHON_REFRESH": "quiet", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", **(env or {})})
    return {**result.payload, "peak_rss_mb": result.peak_rss_mb}


# -- data set-up: MLflow databases (their rows: _mlflow_data.py) ---------------------------------
def make_db(db: Path, experiments: dict[str, list[Any]]) -> None:
    """An MLflow SQLite database holding ``experiments`` (built beside ``db``, then renamed)."""
    building = db.with_name(db.name + ".building")
    building.unlink(missing_ok=True)
    ids = worker(MLFLOW.python, "mlflow_schema", {"uri": f"sqlite:///{building}", "experiments": list(experiments)})
    con = sqlite3.connect(building)
    with con:
        for name, runs in experiments.items():
            fill_mlflow_db(con, "?", db.name, ids[name], runs)
    con.close()
    building.rename(db)


def make_pg_db(admin_uri: str, name: str, experiments: dict[str, list[Any]]) -> str:
    """An MLflow PostgreSQL database ``name`` holding ``experiments``, kept between runs (a table
    ``bench_complete`` marks a finished load); returns its URI."""
    import psycopg

    uri = admin_uri.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_uri, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if exists:
        with psycopg.connect(uri) as conn:
            if conn.execute("SELECT to_regclass('bench_complete')").fetchone()[0] is not None:
                return uri
        with psycopg.connect(admin_uri, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    with psycopg.connect(admin_uri, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    # MLflow's SQLAlchemy reads postgresql:// as psycopg 3, which its venv lacks; it has psycopg2.
    ids = worker(MLFLOW.python, "mlflow_schema", {"uri": mlflow_uri(uri), "experiments": list(experiments)})
    with psycopg.connect(uri) as conn:
        for exp, runs in experiments.items():
            fill_mlflow_db(conn, "%s", name, ids[exp], runs)
        conn.execute("CREATE TABLE bench_complete (done INTEGER)")
    return uri


# -- the cases --------------------------------------------------------------------------------------
def _report(case: str, ours: list[dict[str, Any]], theirs: list[dict[str, Any]], key: str, unit: str, checks: bool,
            lower_is_better: bool, **extra: Any) -> None:
    if all("wire_ms" in r for r in ours + theirs):  # the servers' part alone, without the client's decoding
        mine_wire, peer_wire = _peer.median([r["wire_ms"] for r in ours]), _peer.median([r["wire_ms"] for r in theirs])
        extra.update(slipway_wire_ms=round(mine_wire, 1), peer_wire_ms=round(peer_wire, 1),
                     wire_ratio=round(peer_wire / mine_wire, 2))
    mine, peer = _peer.median([r[key] for r in ours]), _peer.median([r[key] for r in theirs])
    ratio = peer / mine if lower_is_better else mine / peer
    _peer.emit(WORKLOAD, case, mine, peer, unit, ratio, MLFLOW.version, "ok" if checks else "mismatch",
               slipway_range=[round(min(r[key] for r in ours), 3), round(max(r[key] for r in ours), 3)],
               peer_range=[round(min(r[key] for r in theirs), 3), round(max(r[key] for r in theirs), 3)],
               rounds=len(ours), load_average=round(os.getloadavg()[0], 1), **extra)


def _schema_key() -> str:
    """Names Slipway's schema (its migration files), so a cached Slipway store is rebuilt when it changes."""
    import hashlib

    names = sorted(p.name for p in (_peer.REPO / "src" / "slipway" / "store" / "migrations" / "versions").glob("*.py"))
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:10]


def served_stores(sizes: dict[str, int], postgres: str | None, scratch: Path) -> tuple[str, dict[str, str], Path]:
    """The MLflow store ``mlflow server`` serves and the Slipway store (imported from the same MLflow
    data) ``slipway server`` serves: (MLflow backend URI, Slipway's environment, Slipway home).

    Both are cached under ``.bench/mlflow_compat/`` (loading and importing 20,000 runs takes minutes
    on a busy machine): SQLite files are copied into ``scratch`` for each run, so every run starts
    from the same data; PostgreSQL databases (``slipway_bench_mlflow_*``) are kept and reused.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    size = f"{sizes['search']}x{sizes['history']}"
    history = [("history", {}, {"loss": [random.Random(5).random() + i * 1e-6 for i in range(sizes["history"])]})]
    experiments = {"search": search_runs(sizes["search"]), "history": history}
    if postgres:
        import psycopg

        source = make_pg_db(postgres, f"slipway_bench_mlflow_{size}", experiments)
        analyze = True  # both databases, below: the test server runs without autovacuum
        store = f"slipway_bench_mlflow_slipway_{size}_{_schema_key()}"
        store_uri = postgres.rsplit("/", 1)[0] + "/" + store
        home = scratch / "slipway-server"
        env = {"SLIPWAY_STORE_URI": store_uri, "SLIPWAY_ARTIFACTS_URI": str(CACHE / f"{store}-artifacts")}
        with psycopg.connect(postgres, autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (store,)).fetchone()
            if exists and not (CACHE / f"{store}.complete").exists():  # a finished import leaves this marker
                admin.execute(f'DROP DATABASE "{store}" WITH (FORCE)')
                exists = None
            if not exists:
                admin.execute(f'CREATE DATABASE "{store}"')
        if not (CACHE / f"{store}.complete").exists():
            imported = worker(_peer.SLIPWAY_PYTHON, "slipway_import", {"home": str(home), "uri": source}, env)
            _peer.log(f"set-up: slipway store imported from the MLflow database in {imported['seconds']:.1f} s")
            (CACHE / f"{store}.complete").write_text("")
        home.mkdir(parents=True, exist_ok=True)  # the server's folder (its store is the database)
        if analyze:
            # Planner statistics and visibility maps for both sides, as autovacuum leaves them after
            # a bulk load; the PostgreSQL these benchmarks use runs with autovacuum off. Without
            # statistics both planners guess one row per table (Slipway's search then probed an
            # index per run); without VACUUM every index-only scan also reads the table's rows.
            for uri in (source, store_uri):
                with psycopg.connect(uri, autocommit=True) as conn:
                    conn.execute("VACUUM ANALYZE")
        return source, env, home
    db = CACHE / f"served-{size}.db"
    if not db.exists():
        _peer.log(f"set-up: loading {db} (first use only)")
        make_db(db, experiments)
    mlflow_db = scratch / "mlflow-server.db"
    shutil.copy(db, mlflow_db)
    cached_home = CACHE / f"slipway-{size}-{_schema_key()}"
    if not cached_home.exists():
        building = cached_home.with_name(cached_home.name + ".building")
        shutil.rmtree(building, ignore_errors=True)
        imported = worker(_peer.SLIPWAY_PYTHON, "slipway_import", {"home": str(building), "uri": f"sqlite:///{db}"})
        _peer.log(f"set-up: slipway store imported from the MLflow database in {imported['seconds']:.1f} s")
        building.rename(cached_home)
    home = scratch / "slipway-server"
    shutil.copytree(cached_home, home)
    return f"sqlite:///{mlflow_db}", {}, home


def quick_history(sizes: dict[str, int]) -> bool:
    """``--quick`` makes no unrecorded call in the history workers, so it keeps the warm-up round."""
    return sizes["history_calls"]["warmup"] == 0  # type: ignore[index]


def run_server_cases(cases: list[str], sizes: dict[str, int], rounds: int, scratch: Path, postgres: str | None) -> None:
    source_uri, slipway_env, home = served_stores(sizes, postgres, scratch)
    store = "postgresql" if postgres else "sqlite"
    token = "slw_" + secrets.token_hex(16)
    slipway_port, mlflow_port = _peer.free_port(), _peer.free_port()
    slipway_server = _peer.Background(
        [_peer.SLIPWAY_PYTHON.parent / "slipway", "server", "--port", str(slipway_port)],
        env={"SLIPWAY_HOME": str(home), "SLIPWAY_SERVER_URL": "", "SLIPWAY_BOOTSTRAP_TOKEN": token, **slipway_env},
        cwd=home)
    mlflow_server = _peer.Background(
        [MLFLOW.venv / "bin" / "mlflow", "server", "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1",
         "--backend-store-uri", mlflow_uri(source_uri), "--default-artifact-root", str(scratch / "artifacts")],
        cwd=scratch)
    try:
        slipway_server.wait_http(f"http://127.0.0.1:{slipway_port}/healthz")
        mlflow_server.wait_http(f"http://127.0.0.1:{mlflow_port}/health", 180)
        ours_spec = {"url": f"http://127.0.0.1:{slipway_port}", "token": token}
        theirs_spec = {"url": f"http://127.0.0.1:{mlflow_port}"}
        for case in cases:
            extra = {"metrics": sizes["metrics"], "steps": 1000} if case == "mlflow_client_log_batch" else {
                "repeat": 10, "warmup": 2} if case == "mlflow_client_search_20k" else sizes["history_calls"]
            name = {"mlflow_client_log_batch": "client_log_batch", "mlflow_client_search_20k": "client_search",
                    "mlflow_client_metric_history": "client_history"}[case]
            _peer.log(f"case {case}, {rounds} rounds")
            # The history case's workers make an unrecorded call first (its ``warmup``), so it skips
            # the whole warm-up round: on a loaded machine MLflow's side takes minutes per round.
            results = _peer.alternate(rounds, {
                "slipway": lambda _n, n=name, e=extra: worker(MLFLOW.python, n, {**ours_spec, **e}),
                "mlflow": lambda _n, n=name, e=extra: worker(MLFLOW.python, n, {**theirs_spec, **e})},
                warmup=0 if case == "mlflow_client_metric_history" and not quick_history(sizes) else 1)
            ours, theirs = results["slipway"], results["mlflow"]
            if case == "mlflow_client_log_batch":
                for r in ours + theirs:
                    r["rate"] = r["points"] / r["seconds"]
                same = all(r["stored_m0"] == 1000 for r in ours + theirs)
                _report(case, ours, theirs, "rate", "points/s", same, False, points_per_run=ours[0]["points"], store=store)
            elif case == "mlflow_client_search_20k":
                same = all(r["names"] == theirs[0]["names"] and len(r["names"]) == 100 for r in ours + theirs)
                _report(f"mlflow_client_search_{_peer.size_label(sizes['search'])}", ours, theirs, "p50_ms", "ms", same,
                        True, runs=sizes["search"], store=store)
            else:
                same = all((r["points"], r["sum"]) == (sizes["history"], theirs[0]["sum"]) for r in ours + theirs)
                _report(case, ours, theirs, "p50_ms", "ms", same, True, points=sizes["history"], store=store,
                        slipway_client_split_ms=[r["split_ms"] for r in ours],
                        peer_client_split_ms=[r["split_ms"] for r in theirs])
    finally:
        _peer.log(f"peak RSS: slipway server {slipway_server.stop():.0f} MiB, mlflow server {mlflow_server.stop():.0f} MiB")


def run_import_case(sizes: dict[str, int], rounds: int, scratch: Path) -> None:
    db = scratch / "import.db"
    make_db(db, {"import": import_runs(sizes["import"], 10, 1000)})
    points = sizes["import"] * 10 * 1000
    mlflow_db = scratch / "mlflow-copy-target.db"
    port = _peer.free_port()
    target = _peer.Background(
        [MLFLOW.venv / "bin" / "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{mlflow_db}", "--default-artifact-root", str(scratch / "copy-artifacts")],
        cwd=scratch)
    try:
        target.wait_http(f"http://127.0.0.1:{port}/health", 180)
        homes = iter(range(1000))

        def ours(_n: int) -> dict[str, Any]:
            result = worker(_peer.SLIPWAY_PYTHON, "slipway_import", {"home": str(scratch / f"import-{next(homes)}"),
                                                                      "uri": f"sqlite:///{db}"})
            return {**result, "rate": result["runs"] / result["seconds"]}

        def theirs(_n: int) -> dict[str, Any]:
            result = worker(MLFLOW.python, "mlflow_copy", {"source": f"sqlite:///{db}", "url": f"http://127.0.0.1:{port}",
                                                           "sample": sizes["copy_sample"]})
            return {**result, "rate": result["runs"] / result["seconds"]}

        results = _peer.alternate(rounds, {"slipway": ours, "mlflow": theirs}, warmup=0)
    finally:
        target.stop()
    same = all((r["runs"], r["points"]) == (sizes["import"], points) for r in results["slipway"]) and all(
        r["points"] == r["runs"] * 10_000 for r in results["mlflow"])
    _report(f"import_mlflow_{_peer.size_label(sizes['import'])}_runs", results["slipway"], results["mlflow"], "rate", "runs/s", same, False,
            runs=sizes["import"], points=points, peer_sample_runs=sizes["copy_sample"],
            peer_method="MlflowClient copy (read from the database, log_batch to mlflow server)")


def main() -> None:
    parser = _peer.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES, action="append", help="run only these cases")
    parser.add_argument("--postgres", nargs="?", const="postgresql://postgres@127.0.0.1:5432/test", default=None,
                        metavar="ADMIN_URI", help="serve both sides from PostgreSQL (databases slipway_bench_mlflow_* "
                        "created through ADMIN_URI, default %(const)s) instead of SQLite")
    args = parser.parse_args()
    if args.worker:
        _peer.worker_main(WORKERS, args.worker, args.spec)
        return
    quick = args.quick
    sizes = {"metrics": 10 if quick else 20, "search": 2000 if quick else 20_000, "history": 100_000,
             "import": 100 if quick else 1000, "copy_sample": 3 if quick else 5,
             # MLflow's server takes over a minute per 100,000-point history on a loaded machine
             "history_calls": {"repeat": 1, "warmup": 0} if quick else {"repeat": 3, "warmup": 1}}
    rounds = args.rounds or (2 if quick else 3)
    MLFLOW.ensure()
    scratch = Path(tempfile.mkdtemp(prefix="slipway-bench-mlflow-compat-"))
    try:
        cases = args.case or list(CASES)
        server_cases = [c for c in cases if c != "import_mlflow_1k_runs"]
        if server_cases:
            run_server_cases(server_cases, sizes, rounds, scratch, args.postgres)
        if "import_mlflow_1k_runs" in cases:
            run_import_case(sizes, rounds, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
