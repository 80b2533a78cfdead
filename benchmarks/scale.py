"""Benchmark ``scale``: how the cost of a call grows with the size of the store, on PostgreSQL.

Curves (one JSON line per point, then one per curve with the fitted exponent):

- ``tracking_search``: ``ws.tracking.search_runs`` over N runs x 10 params x 10 metrics (the
  filter and order of ``benchmarks/tracking_search.py``: ``metrics.m0 > 0.5 and params.p0 = 'rf'``,
  ``metrics.m1 DESC``, top 100), N = 20k and 200k (``--runs`` adds 1M); also a param-only filter
  ordered by start time, and the unfiltered newest 100.
- ``registry_list``: ``ws.registry.list_models()`` (every model with its latest version and
  aliases) and ``search_models("model-001*")`` over M models with one version each, M = 1k and 10k.

Each size is a fresh PostgreSQL database, migrated by Slipway, then loaded with PostgreSQL's
``COPY`` straight into the tables (set-up, not measured: the rows are what the tracking and
registry backends would write, seeded; loading 200k runs through the API would take an hour on
the shared machine, which measures ingest, not search). The measured calls go through the normal
embedded workspace (``slipway.connect(store_uri=...)``): p50 and p90 of ``--queries`` calls after
``ANALYZE`` and two warm-up calls.

The exponent k of ``cost ~ size^k`` is the least-squares slope of log(p50) on log(size): k ≈ 0
means the call does not grow with the store (an index walk that stops early), k ≈ 1 linear.

Plots (PNG, one per curve, log-log) are rendered by matplotlib into ``docs/scale/``; matplotlib
is not a Slipway dependency, so it runs in its own venv (``.bench/venv-matplotlib``, created on
first use through ``benchmarks/_peer.py``) from the JSON this script writes. Run::

    .venv/bin/python benchmarks/scale.py [--quick] [--runs 20000,200000,1000000] [--models 1000,10000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peer  # noqa: E402

WORKLOAD = "scale"
MATPLOTLIB = _peer.Peer("matplotlib", ["matplotlib==3.11.2"])
PLOTS = _peer.REPO / "docs" / "scale"
MODELS = ["rf", "gbm", "svm", "lr", "knn", "mlp", "xgb", "lgbm", "ridge", "lasso"]
USER = "bench"
XLABELS = {"tracking_search": "runs in the store", "registry": "registered models",
           "serving": "inference server workers", "metric_history": "points in the series",
           "data_bytes": "bytes in the file", "data_files": "files in the folder"}
TITLES = {"serving": "inference server at saturation (64 connections)",
          "data_bytes": "slipway data add / status: one large file (CLI)",
          "data_files": "slipway data add / status: many small files (CLI)"}


@contextlib.contextmanager
def database(admin_uri: str) -> Iterator[str]:
    import psycopg

    name = f"slipway_scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_uri.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def kept_database(admin_uri: str, name: str) -> Iterator[tuple[str, bool]]:
    """``--keep``: the database ``name``, left in place afterwards, and whether an earlier run
    finished loading it (its comment says ``loaded``); a half-loaded one is made again."""
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           (name,)).fetchone()
        loaded = row is not None and row[0] == "loaded"
        if not loaded:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    yield admin_uri.rsplit("/", 1)[0] + "/" + name, loaded


def _mark_loaded(uri: str) -> None:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f"COMMENT ON DATABASE \"{uri.rsplit('/', 1)[1]}\" IS 'loaded'")


def _copy(conn: Any, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    names = ", ".join(f'"{c}"' for c in columns)
    with conn.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


@contextlib.contextmanager
def bulk_load(conn: Any, tables: list[str]) -> Iterator[None]:
    """A bulk load the way PostgreSQL's manual advises (populate.html), in ``conn``'s transaction:
    the tables' secondary indexes are dropped and built again afterwards (one sort each instead
    of 10M ordered inserts), and foreign-key triggers are off for the load
    (``session_replication_role = replica``; the generated rows are consistent by construction).
    Primary keys and unique constraints stay, so a duplicate still fails the load."""
    found = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = ANY(%s) AND schemaname = current_schema() "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", (tables,)).fetchall()
    for name, _definition in found:
        conn.execute(f'DROP INDEX "{name}"')
    conn.execute("SET session_replication_role = replica")
    yield
    conn.execute("SET session_replication_role = DEFAULT")
    conn.execute("SET maintenance_work_mem = '256MB'")
    for _name, definition in found:
        conn.execute(definition)


def load_runs(uri: str, count: int) -> str:
    """``count`` finished runs in one experiment, 10 params and 10 metrics each, generated by
    PostgreSQL itself (``generate_series``, ``random()`` after ``setseed``) into the tables the
    tracking backend writes, in one transaction (:func:`bulk_load`); returns the experiment's name.

    The rows are those ``log_batch`` writes: ``runs``, ``params`` (``p0`` one of ten model names,
    ``p1``..``p9`` ``value-0``..``value-49``) and ``latest_metrics`` (``m0``..``m9`` uniform in [0, 1)).
    The point history (``metrics``) is left out: search reads only the latest values."""
    import psycopg

    from slipway.core.ids import new_id

    experiment_id = new_id()
    start = 1_700_000_000_000
    models = "ARRAY[" + ", ".join(f"'{m}'" for m in MODELS) + "]"
    with psycopg.connect(uri) as conn:
        conn.execute("SELECT setseed(%s)", (1 / (1 + count),))
        conn.execute("INSERT INTO experiments (id, name, description, lifecycle, created_ms) "
                     "VALUES (%s, 'scale', '', 'active', %s)", (experiment_id, start))
        with bulk_load(conn, ["runs", "params", "latest_metrics"]):
            conn.execute(
                'INSERT INTO runs (id, experiment_id, name, status, start_ms, end_ms, lifecycle, "user") '
                "SELECT 'r' || lpad(i::text, 11, '0'), %s, 'run-' || lpad(i::text, 7, '0'), 'FINISHED', "
                "%s + i * 1000, %s + i * 1000 + 500, 'active', %s FROM generate_series(0, %s - 1) AS i",
                (experiment_id, start, start, USER, count))
            conn.execute(
                'INSERT INTO params (run_id, "key", value) '
                "SELECT 'r' || lpad(i::text, 11, '0'), 'p' || j, CASE WHEN j = 0 "
                f"THEN ({models})[1 + floor(random() * {len(MODELS)})::int] "
                "ELSE 'value-' || floor(random() * 50)::int END "
                "FROM generate_series(0, %s - 1) AS i, generate_series(0, 9) AS j", (count,))
            conn.execute(
                'INSERT INTO latest_metrics (run_id, "key", value, is_nan, step, ts) '
                "SELECT 'r' || lpad(i::text, 11, '0'), 'm' || j, random(), false, 0, %s + i * 1000 "
                "FROM generate_series(0, %s - 1) AS i, generate_series(0, 9) AS j", (start, count))
        conn.commit()
    return "scale"


def load_models(uri: str, count: int) -> None:
    """``count`` registered models with one version each (seeded)."""
    import psycopg

    models, versions = [], []
    now = 1_700_000_000_000
    for index in range(count):
        model_id, version_id = f"m{index:011d}", f"v{index:011d}"
        models.append((model_id, f"model-{index:06d}", "", USER, "low", f'{{"team": "t{index % 20}"}}', now, now))
        versions.append((version_id, model_id, 1, "model", "0" * 64, "sklearn", "{}", '{"auc": 0.9}', "{}", "[]", "",
                         "{}", "registered", USER, now, now))
    with psycopg.connect(uri) as conn:
        _copy(conn, "registered_models", ["id", "name", "description", "owner", "risk_tier", "tags", "created_ms",
                                          "updated_ms"], iter(models))
        _copy(conn, "model_versions", ["id", "model_id", "version", "artifact_path", "bundle_digest", "flavor",
                                       "signature", "metrics", "params", "datasets", "description", "tags", "state",
                                       "created_by", "created_ms", "updated_ms"], iter(versions))
        conn.commit()


def _analyze(uri: str) -> None:
    """``VACUUM ANALYZE``, as autovacuum does after a bulk insert: statistics for the planner and
    the visibility map that lets counts and ordered walks read an index without the table."""
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _database_mb(uri: str) -> float:
    import psycopg

    with psycopg.connect(uri) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return float(row[0]) / 2**20 if row else 0.0


def check_answers(call: Callable[[], Any], check: Callable[[Any], bool]) -> None:
    """Two warm-up calls whose answers must be right."""
    for _ in range(2):
        if not check(call()):
            raise AssertionError("the measured call returned a wrong answer")


def timed_ms(call: Callable[[], Any]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def _workspace(uri: str, home: Path) -> Any:
    from slipway.core.settings import load_settings
    from slipway.workspace import open_workspace

    return open_workspace(load_settings(home=home, store_uri=uri, artifacts_uri=str(home / "artifacts"),
                                        server_url="", token="", user=""))


def _search_cases(ws: Any, experiment: str, size: int) -> dict[str, tuple[Callable[[], Any], Callable[[Any], bool]]]:
    def some(page: Any) -> bool:
        return 0 < len(page.runs) <= 100

    return {
        "metric_and_param_top100": (lambda: ws.tracking.search_runs(
            "metrics.m0 > 0.5 and params.p0 = 'rf'", [experiment], ["metrics.m1 DESC"], 100), some),
        "param_newest100": (lambda: ws.tracking.search_runs("params.p3 = 'value-7'", [experiment], None, 100), some),
        "newest100": (lambda: ws.tracking.search_runs("", [experiment], None, 100), some),
    }


def _registry_cases(ws: Any, size: int) -> dict[str, tuple[Callable[[], Any], Callable[[Any], bool]]]:
    middle = f"model-{size // 2:06d}"
    return {
        "list_all": (lambda: ws.registry.list_models(), lambda models: len(models) == size),
        "search_prefix": (lambda: ws.registry.search_models("model-0001*"),
                          lambda models: len(models) == min(100, max(0, size - 100))),
        "get_model": (lambda: ws.registry.get_model(middle), lambda model: model.name == middle),
    }


Cases = Callable[[Any, int], dict[str, tuple[Callable[[], Any], Callable[[Any], bool]]]]


def curve(family: str, admin_uri: str, sizes: list[int], queries: int, load: Callable[[str, int], None],
          cases_of: Cases, keep: bool = False) -> list[dict[str, Any]]:
    """Load one database per size (kept side by side), then measure round-robin over the sizes,
    one call of each case per turn, so the shared machine's drifting load hits every size alike.
    With ``keep`` the databases are named by family and size and reused by the next run."""
    from slipway.store.database import Database

    with contextlib.ExitStack() as stack:
        tables: CaseTable = {}
        for size in sizes:
            loaded = False
            if keep:
                uri, loaded = stack.enter_context(kept_database(admin_uri, f"slipway_scale_{family}_{size}"))
            else:
                uri = stack.enter_context(database(admin_uri))
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            Database(uri).upgrade()  # also brings a kept database to the current schema
            began = time.perf_counter()
            if not loaded:
                load(uri, size)
            _analyze(uri)
            if keep:
                _mark_loaded(uri)
            _peer.log(f"{family}: size {size:,} {'reused' if loaded else 'loaded'} in "
                      f"{time.perf_counter() - began:.0f} s; database {_database_mb(uri):,.0f} MiB")
            ws = _workspace(uri, tmp)
            stack.callback(ws.close)
            tables[size] = cases_of(ws, size)
            for call, check in tables[size].values():
                check_answers(call, check)
        return measure(family, tables, queries)


CaseTable = dict[int, dict[str, tuple[Callable[[], Any], Callable[[Any], bool]]]]


def measure(family: str, tables: CaseTable, queries: int) -> list[dict[str, Any]]:
    """``queries`` calls of each case at each size, round-robin over the sizes; p50 and p90."""
    samples: dict[tuple[str, int], list[float]] = {}
    for _ in range(queries):
        for size, cases in tables.items():
            for case, (call, _check) in cases.items():
                samples.setdefault((case, size), []).append(timed_ms(call))
    points = []
    for (case, size), times in samples.items():
        times.sort()
        point = {"curve": f"{family}.{case}", "size": size, "p50_ms": round(statistics.median(times), 3),
                 "p90_ms": round(times[int(0.9 * (len(times) - 1))], 3), "calls": len(times),
                 "load_average": round(os.getloadavg()[0], 1)}
        points.append(point)
        print(json.dumps({"workload": WORKLOAD, **point}), flush=True)
    return points


def _load_runs(uri: str, size: int) -> None:
    load_runs(uri, size)


def exponent(points: list[dict[str, Any]]) -> float:
    """Least-squares slope of log(p50) on log(size)."""
    xs = [math.log(p["size"]) for p in points]
    ys = [math.log(max(p["p50_ms"], 1e-3)) for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den, 3) if den else 0.0


def curves(points: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        grouped.setdefault(point["curve"], []).append(point)
    return grouped


def plot(results: Path) -> None:
    """Runs in the matplotlib venv: one log-log PNG per family of curves into ``docs/scale/``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(results.read_text())
    PLOTS.mkdir(parents=True, exist_ok=True)
    families: dict[str, dict[str, Any]] = {}
    for name, summary in data["curves"].items():
        families.setdefault(name.split(".")[0], {})[name] = summary
    for family, members in families.items():
        fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
        throughput = family == "serving"
        for name, summary in sorted(members.items()):
            sizes = [p["size"] for p in summary["points"]]
            ax.plot(sizes, [p["rps" if throughput else "p50_ms"] for p in summary["points"]], marker="o",
                    label=f"{name.split('.', 1)[1]} (k={summary['exponent']:+.2f})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(XLABELS.get(family, "size"))
        ax.set_ylabel("requests/s (log)" if throughput else "p50 latency (ms, log)")
        ax.set_title(TITLES.get(family, f"{family} on PostgreSQL (embedded client)"))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(PLOTS / f"{family}.png")
        plt.close(fig)


def main() -> None:
    parser = _peer.argument_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--runs", default="")
    parser.add_argument("--models", default="")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--keep", action="store_true",
                        help="keep the loaded databases (slipway_scale_<curve>_<size>) and reuse them next time")
    parser.add_argument("--plot", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plot is not None:
        plot(args.plot)
        return
    runs = [int(s) for s in (args.runs or ("2000,20000" if args.quick else "20000,200000")).split(",") if s]
    models = [int(s) for s in (args.models or ("1000,3000" if args.quick else "1000,10000")).split(",") if s]
    points = curve("tracking_search", args.pg, runs, args.queries, _load_runs,
                   lambda ws, size: _search_cases(ws, "scale", size), args.keep)
    points += curve("registry", args.pg, models, args.queries, load_models, _registry_cases, args.keep)
    finish(points, "scale-results.json")


def finish(points: list[dict[str, Any]], results_name: str) -> None:
    """Print each curve's exponent, keep the results in ``.bench/`` and plot them to ``docs/scale/``."""
    summary = {name: {"points": members, "exponent": exponent(members)} for name, members in curves(points).items()}
    for name, item in summary.items():
        print(json.dumps({"workload": WORKLOAD, "curve": name, "exponent": item["exponent"],
                          "sizes": [p["size"] for p in item["points"]],
                          "p50_ms": [p["p50_ms"] for p in item["points"]]}), flush=True)
    results = _peer.BENCH_DIR / results_name
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps({"curves": summary}, indent=1))
    try:
        python = MATPLOTLIB.ensure()
        done = subprocess.run([str(python), __file__, "--plot", str(results)], capture_output=True, text=True,
                              timeout=600)
        if done.returncode != 0:
            _peer.log(f"plotting failed: {done.stderr[-2000:]}")
        else:
            _peer.log(f"plots in {PLOTS}")
    except Exception as err:  # noqa: BLE001 - the figures stand without the plots
        _peer.log(f"plotting skipped: {err}")


if __name__ == "__main__":
    main()
