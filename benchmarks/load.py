"""Benchmark ``load``: the platform API under 32 concurrent clients, two servers on PostgreSQL.

Two ``slipway server`` processes run over one new PostgreSQL database and one artifact folder;
32 client threads, each with its own workspace whose calls are spread over both servers
(``SLIPWAY_SERVER_URL=url1,url2``), loop over a mixed workload for ``--seconds``:

- tracking writes: ``create_run`` + ``log_batch`` (10 metric points, 2 params) + ``end_run``;
- searches: ``search_runs("metrics.loss < 0.5", max_results=50)``;
- registry: ``create_model`` (a write) and ``list_models`` / ``get_model`` (reads);
- governance reads: ``audit.log(limit=20)``.

Reported (one JSON line per case): calls/s, p50/p99 per operation, errors (must be 0), and each
server's resident memory per minute with its trend over the last two thirds (``_soak.py``: flat =
the fitted growth projects to under 10 % an hour; the first third is warm-up), and one line per
minute (calls, p99 of every call, each server's median RSS). ``checks`` is ``ok`` when there were
no errors, every acknowledged run is in the store exactly once, and both servers' memory is flat.

Run::

    .venv/bin/python benchmarks/load.py [--quick] [--seconds N] [--clients N] [--pg postgresql://…/postgres]

``--quick`` runs 20 s (a smoke run); the full soak is ``--seconds 600``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _soak  # noqa: E402

WORKLOAD = "load"
TOKEN = "slw_load-admin-token"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def database(admin_uri: str) -> Iterator[str]:
    import psycopg

    name = f"slipway_load_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_uri.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def servers(store_uri: str, root: Path, count: int = 2) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update(SLIPWAY_STORE_URI=store_uri, SLIPWAY_ARTIFACTS_URI=str(root / "artifacts"),
               SLIPWAY_BOOTSTRAP_TOKEN=TOKEN)
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for index in range(count):
            import socket

            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            home = root / f"server-{index}"
            home.mkdir()
            process = subprocess.Popen([sys.executable, "-m", "slipway.cli.main", "server", "--port", str(port)],
                                       env={**env, "SLIPWAY_HOME": str(home)}, stdout=subprocess.DEVNULL)
            url = f"http://127.0.0.1:{port}"
            started.append((url, process))
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                        break
                time.sleep(0.2)
        yield started
    finally:
        for _, process in started:
            process.terminate()
            process.wait(30)


class Client:
    def __init__(self, server_url: str, home: Path, index: int) -> None:
        from slipway.core.settings import load_settings
        from slipway.workspace import open_workspace

        self.ws = open_workspace(load_settings(home=home, server_url=server_url, token=TOKEN, user="",
                                               store_uri="", artifacts_uri=""))
        self.tracking = self.ws.backend("tracking")
        self.index = index
        self.count = 0
        self.runs: list[str] = []

    def operations(self) -> list[tuple[str, Callable[[], Any]]]:
        return [("tracking_write", self.write_run), ("search", self.search), ("registry_write", self.create_model),
                ("registry_read", self.read_models), ("audit_read", lambda: self.ws.audit.log(limit=20))]

    def write_run(self) -> None:
        run = self.tracking.create_run("load", f"c{self.index}-{self.count}")
        points = [("loss", 1.0 / (step + 1), step, 0) for step in range(10)]
        self.tracking.log_batch(run.id, metrics=points, params={"client": str(self.index), "lr": "0.1"})
        self.tracking.end_run(run.id, "FINISHED")
        self.runs.append(run.id)

    def search(self) -> None:
        self.ws.tracking.search_runs("metrics.loss < 0.5", experiments=["load"], max_results=50)

    def create_model(self) -> None:
        self.ws.registry.create_model(f"m-{self.index}-{self.count}")

    def read_models(self) -> None:
        models = self.ws.registry.list_models(max_results=50)
        if models:
            self.ws.registry.get_model(models[0].name)


def run_load(server_url: str, root: Path, clients: int, seconds: float, pids: list[int]) -> dict[str, Any]:
    latencies: dict[str, list[float]] = defaultdict(list)
    timeline: list[tuple[float, float]] = []  # (seconds since start, latency ms) of every call
    errors: list[str] = []
    lock = threading.Lock()
    workers = [Client(server_url, root / f"client-{i}", i) for i in range(clients)]
    memory: list[tuple[float, list[float]]] = []
    start = time.monotonic()
    stop = start + seconds

    def loop(client: Client) -> None:
        ops = client.operations()
        while time.monotonic() < stop:
            name, op = ops[client.count % len(ops)]
            began = time.perf_counter()
            try:
                op()
            except Exception as err:  # counted and reported: the run must end with none
                with lock:
                    errors.append(f"{name}: {type(err).__name__}: {err}"[:300])
            else:
                took = (time.perf_counter() - began) * 1000
                with lock:
                    latencies[name].append(took)
                    timeline.append((time.monotonic() - start, took))
            client.count += 1

    threads = [threading.Thread(target=loop, args=(c,)) for c in workers]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        memory.append((time.monotonic() - start, [_rss_mb(pid) for pid in pids]))
        time.sleep(1.0)
    elapsed = time.monotonic() - start
    acknowledged = [run_id for c in workers for run_id in c.runs]
    found = workers[0].ws.tracking.search_runs("", experiments=["load"], max_results=50_000).runs
    for c in workers:
        c.ws.close()
    rss = [[round(statistics.median(m), 1) for m in _soak.per_minute((at, m[i]) for at, m in memory) if m]
           for i in range(len(pids))]
    minutes = [{"minute": index + 1, "calls": len(values), "p99_ms": round(_soak.p99(values), 1),
                "rss_mb": [server[index] if index < len(server) else None for server in rss]}
               for index, values in enumerate(_soak.per_minute(timeline))]
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed, "acknowledged": acknowledged,
            "found": [r.id for r in found], "minutes": minutes, "rss_per_minute_mb": rss,
            "memory_trend": [_soak.memory_trend(server) for server in rss]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    seconds = args.seconds or (20.0 if args.quick else 600.0)
    with tempfile.TemporaryDirectory() as tmp, database(args.pg) as store_uri, \
            servers(store_uri, Path(tmp)) as started:
        url = ",".join(u for u, _ in started)
        result = run_load(url, Path(tmp), args.clients, seconds, [p.pid for _, p in started])
    calls = sum(len(v) for v in result["latencies"].values())
    exactly_once = sorted(result["acknowledged"]) == sorted(result["found"])
    flat = all(trend["flat"] for trend in result["memory_trend"])
    checks = "ok" if not result["errors"] and exactly_once and flat else "failed"
    for minute in result["minutes"]:
        print(json.dumps({"workload": WORKLOAD, "case": "minute", **minute}))
    for name, values in sorted(result["latencies"].items()):
        values.sort()
        print(json.dumps({"workload": WORKLOAD, "case": f"{name}_latency", "unit": "ms", "calls": len(values),
                          "p50": round(values[len(values) // 2], 1),
                          "p99": round(values[min(len(values) - 1, int(len(values) * 0.99))], 1),
                          "checks": checks}))
    print(json.dumps({"workload": WORKLOAD, "case": "mixed_2_servers_postgres", "clients": args.clients,
                      "seconds": round(result["elapsed"], 1), "slipway": round(calls / result["elapsed"], 1),
                      "unit": "calls/s", "errors": len(result["errors"]), "first_errors": result["errors"][:3],
                      "runs_acknowledged": len(result["acknowledged"]), "runs_found": len(result["found"]),
                      "rss_per_minute_mb": result["rss_per_minute_mb"], "memory_trend": result["memory_trend"],
                      "load_average": os.getloadavg(), "checks": checks}))


if __name__ == "__main__":
    main()
