"""Benchmark ``tracking_ingest``: one run logs 100 metrics x 1,000 steps, Slipway vs MLflow.

Cases (BENCHMARKS.md):

- ``embedded_vs_mlflow_per_call`` — ``slipway.log_metric`` per point (buffered, written in the
  background, flushed by ``end_run``, which is inside the timing) vs ``mlflow.log_metric`` per
  point; both on a SQLite store. MLflow writes one transaction per call, so it is timed on a
  sample of the same calls and reported as a rate.
- ``embedded_vs_mlflow_log_batch`` — ``ws.tracking.log_batch`` vs ``MlflowClient.log_batch``,
  both in MLflow's recommended (and maximum) chunk of 1,000 metrics per call, on SQLite.
- ``server_vs_mlflow_server_log_batch`` — the same through ``slipway server`` and
  ``mlflow server`` (each a subprocess over a SQLite store), 1,000 metrics per call.

Every round runs each side in a fresh worker process against a fresh store; sides alternate.
A worker reads back how many points its run holds; ``checks`` is ``ok`` only if every round of
both sides stored exactly what it logged. Run::

    .venv/bin/python benchmarks/tracking_ingest.py [--quick] [--rounds N] [--case NAME]

Only the standard library and ``_peer`` are imported at the top: the same file runs as the
MLflow-side worker inside MLflow's own venv.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peer  # noqa: E402 - after the path set-up above

WORKLOAD = "tracking_ingest"
MLFLOW = _peer.Peer("mlflow", ["mlflow==3.17.2"])
CHUNK = 1000  # MLflow's log_batch limit (and recommended size) for metrics
CASES = ("embedded_vs_mlflow_per_call", "embedded_vs_mlflow_log_batch", "server_vs_mlflow_server_log_batch")


def metric_keys(spec: dict[str, Any]) -> list[str]:
    return [f"metric_{i:03d}" for i in range(spec["metrics"])]


def points(spec: dict[str, Any]) -> Iterator[tuple[str, float, int]]:
    """Every (key, value, step) in logging order: all metrics of step 0, then step 1, …"""
    keys = metric_keys(spec)
    for step in range(spec["steps"]):
        for index, key in enumerate(keys):
            yield key, (step * 0.001 + index) % 7.0, step


# -- Slipway-side workers (run in the repository's venv) ---------------------------------------
def slipway_per_call(spec: dict[str, Any]) -> dict[str, Any]:
    import slipway

    ws = slipway.connect(spec["home"])
    run = slipway.start_run("ingest", experiment="bench")
    work = list(points(spec))
    started = time.perf_counter()
    for key, value, step in work:
        slipway.log_metric(key, value, step=step)
    slipway.end_run()  # flushes the buffer: the points are stored when the clock stops
    seconds = time.perf_counter() - started
    stored = ws.backend("tracking").count_metric_points(run.id)
    return {"seconds": seconds, "logged": len(work), "stored": stored}


def slipway_log_batch(spec: dict[str, Any]) -> dict[str, Any]:
    import slipway

    ws = slipway.connect(spec.get("url") or spec["home"], **({"token": spec["token"]} if spec.get("url") else {}))
    run = slipway.start_run("ingest", experiment="bench")
    work = list(points(spec))
    started = time.perf_counter()
    now = int(time.time() * 1000)
    logged = 0
    for start in range(0, len(work), CHUNK):
        batch = [(key, value, step, now) for key, value, step in work[start : start + CHUNK]]
        logged += ws.tracking.log_batch(run.id, metrics=batch)
    seconds = time.perf_counter() - started
    slipway.end_run()
    stored = ws.backend("tracking").count_metric_points(run.id)
    return {"seconds": seconds, "logged": logged, "stored": stored}


# -- MLflow-side workers (run in .bench/venv-mlflow) -------------------------------------------
def _mlflow_setup(spec: dict[str, Any]) -> Any:
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    os.chdir(spec["home"])  # MLflow puts ./mlruns artifacts in the working directory
    mlflow.set_tracking_uri(spec.get("url") or f"sqlite:///{spec['home']}/mlflow.db")
    mlflow.set_experiment("bench")
    return mlflow


def _mlflow_stored(mlflow: Any, run_id: str, keys: list[str]) -> int:
    client = mlflow.MlflowClient()
    return sum(len(client.get_metric_history(run_id, key)) for key in keys)


def mlflow_per_call(spec: dict[str, Any]) -> dict[str, Any]:
    mlflow = _mlflow_setup(spec)
    work = list(points(spec))[: spec["sample"]]
    with mlflow.start_run(run_name="ingest") as run:
        started = time.perf_counter()
        for key, value, step in work:
            mlflow.log_metric(key, value, step=step)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "logged": len(work), "stored": _mlflow_stored(mlflow, run.info.run_id, metric_keys(spec))}


def mlflow_log_batch(spec: dict[str, Any]) -> dict[str, Any]:
    mlflow = _mlflow_setup(spec)
    from mlflow.entities import Metric

    client = mlflow.MlflowClient()
    work = list(points(spec))
    with mlflow.start_run(run_name="ingest") as run:
        run_id = run.info.run_id
        started = time.perf_counter()
        now = int(time.time() * 1000)
        for start in range(0, len(work), CHUNK):
            client.log_batch(run_id, metrics=[Metric(key, value, now, step) for key, value, step in work[start : start + CHUNK]])
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "logged": len(work), "stored": _mlflow_stored(mlflow, run_id, metric_keys(spec))}


WORKERS = {
    "slipway_per_call": slipway_per_call, "slipway_log_batch": slipway_log_batch,
    "mlflow_per_call": mlflow_per_call, "mlflow_log_batch": mlflow_log_batch,
}


# -- the driver ----------------------------------------------------------------------------------
class Side:
    """One side of a case: which Python runs which worker, in a fresh folder per round."""

    def __init__(self, python: Path, worker: str, spec: dict[str, Any], scratch: Path) -> None:
        self.python, self.worker, self.spec, self.scratch = python, worker, spec, scratch
        self.rounds: list[dict[str, Any]] = []

    def __call__(self, number: int) -> dict[str, Any]:
        home = Path(tempfile.mkdtemp(prefix=f"{self.worker}-", dir=self.scratch))
        try:
            spec = {**self.spec, "home": str(home)}
            result = _peer.run_json(self.python, [__file__, "--worker", self.worker, "--spec", _json(spec)],
                                    env={"SLIPWAY_SERVER_URL": "", "SLIPWAY_HOME": str(home)})
        finally:
            shutil.rmtree(home, ignore_errors=True)
        payload = {**result.payload, "rate": result.payload["logged"] / result.payload["seconds"],
                   "peak_rss_mb": result.peak_rss_mb}
        if number >= 0:
            self.rounds.append(payload)
        return payload


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def report(case: str, slipway: Side, mlflow: Side, **extra: Any) -> None:
    all_rounds = slipway.rounds + mlflow.rounds
    checks = "ok" if all(r["stored"] == r["logged"] for r in all_rounds) else (
        "FAILED: stored != logged in " + ", ".join(f"{r['stored']}/{r['logged']}" for r in all_rounds if r["stored"] != r["logged"]))
    ours = _peer.median([r["rate"] for r in slipway.rounds])
    theirs = _peer.median([r["rate"] for r in mlflow.rounds])
    _peer.emit(WORKLOAD, case, ours, theirs, "points/s", ours / theirs, MLFLOW.version, checks,
               slipway_points=slipway.rounds[0]["logged"], peer_points=mlflow.rounds[0]["logged"],
               slipway_peak_rss_mb=round(max(r["peak_rss_mb"] for r in slipway.rounds), 1),
               peer_peak_rss_mb=round(max(r["peak_rss_mb"] for r in mlflow.rounds), 1), **extra)


def run_embedded(case: str, spec: dict[str, Any], rounds: int, scratch: Path) -> None:
    kind = "per_call" if case.endswith("per_call") else "log_batch"
    ours = Side(_peer.SLIPWAY_PYTHON, f"slipway_{kind}", spec, scratch)
    theirs = Side(MLFLOW.python, f"mlflow_{kind}", spec, scratch)
    _peer.alternate(rounds, {"slipway": ours, "mlflow": theirs})
    report(case, ours, theirs)


def run_servers(case: str, spec: dict[str, Any], rounds: int, scratch: Path) -> None:
    token = "slw_" + secrets.token_hex(16)
    slipway_home, mlflow_home = scratch / "slipway-server", scratch / "mlflow-server"
    slipway_home.mkdir()
    mlflow_home.mkdir()
    slipway_port, mlflow_port = _peer.free_port(), _peer.free_port()
    slipway_server = _peer.Background(
        [_peer.SLIPWAY_PYTHON.parent / "slipway", "server", "--port", str(slipway_port)],
        env={"SLIPWAY_HOME": str(slipway_home), "SLIPWAY_SERVER_URL": "", "SLIPWAY_BOOTSTRAP_TOKEN": token},
        cwd=slipway_home)
    mlflow_server = _peer.Background(
        [MLFLOW.venv / "bin" / "mlflow", "server", "--host", "127.0.0.1", "--port", str(mlflow_port),
         "--backend-store-uri", f"sqlite:///{mlflow_home}/mlflow.db",
         "--default-artifact-root", str(mlflow_home / "artifacts")], cwd=mlflow_home)
    try:
        _peer.log(f"slipway server ready in {slipway_server.wait_http(f'http://127.0.0.1:{slipway_port}/healthz'):.1f} s")
        _peer.log(f"mlflow server ready in {mlflow_server.wait_http(f'http://127.0.0.1:{mlflow_port}/health', 180):.1f} s")
        ours = Side(_peer.SLIPWAY_PYTHON, "slipway_log_batch", {**spec, "url": f"http://127.0.0.1:{slipway_port}", "token": token}, scratch)
        theirs = Side(MLFLOW.python, "mlflow_log_batch", {**spec, "url": f"http://127.0.0.1:{mlflow_port}"}, scratch)
        _peer.alternate(rounds, {"slipway": ours, "mlflow": theirs})
    finally:
        slipway_rss, mlflow_rss = slipway_server.stop(), mlflow_server.stop()
    report(case, ours, theirs, slipway_server_peak_rss_mb=round(slipway_rss, 1), peer_server_peak_rss_mb=round(mlflow_rss, 1))


def main() -> None:
    parser = _peer.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES, action="append", help="run only these cases")
    args = parser.parse_args()
    if args.worker:
        _peer.worker_main(WORKERS, args.worker, args.spec)
        return
    steps = 200 if args.quick else 1000
    rounds = args.rounds or (2 if args.quick else 3)
    # MLflow's per-call path is one SQLite transaction per point: time it on a sample of the calls.
    spec = {"metrics": 100, "steps": steps, "sample": 300 if args.quick else 1000}
    MLFLOW.ensure()
    scratch = Path(tempfile.mkdtemp(prefix="slipway-bench-ingest-"))
    try:
        for case in args.case or CASES:
            _peer.log(f"case {case}: {spec['metrics']} metrics x {steps} steps, {rounds} rounds")
            if case.startswith("server"):
                run_servers(case, spec, rounds, scratch)
            else:
                run_embedded(case, spec, rounds, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
