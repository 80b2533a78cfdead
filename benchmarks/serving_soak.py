"""Benchmark ``serving_soak``: the inference server with 4 workers at saturation for minutes.

``slipway serve ai4i/1 --workers 4`` serves the AI4I random-forest pipeline (the model of
``benchmarks/serving.py``, trained here, registered and approved in a scratch home); ``wrk``
keeps 64 connections busy with 1-row ``/invocations`` requests for ``--seconds``, in windows of
``--window`` seconds. Per window: requests/s, p50 and p99 latency, non-2xx answers and socket
errors, and the server's resident memory (summed over the supervisor and its workers).

Reported: one JSON line per window (a minute by default: requests/s, p50, p99, errors, the RSS of
the supervisor and of each worker) and a summary whose ``checks`` is ``ok`` only if every window
had zero non-2xx answers and zero socket errors, the last quarter's p99 is within 2x of the first
quarter's (stable), and memory is flat: the summed RSS fitted over the last two thirds of the
windows (the first third is warm-up) projects to under 10 % growth an hour (``_soak.py``). The
anonymous part of the RSS (``RssAnon``: the heap, what a leak grows, without mapped files) is
reported per process and summed, with its own trend (``anon_mb``, ``anon_trend``). Run::

    .venv/bin/python benchmarks/serving_soak.py [--quick] [--seconds 600] [--window 60]

``--quick`` soaks 60 s in 10 s windows. ``--sweep 1,2,4`` instead measures throughput at
saturation against the worker count (two windows per count, after a warm-up), prints the curve
with its fitted exponent (1 = linear scaling) and plots it into ``docs/scale/serving.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peer  # noqa: E402
import _soak  # noqa: E402

from serving import FEATURES, body_for, post, wrk  # noqa: E402

WORKLOAD = "serving_soak"
WORKERS = 4
CONNECTIONS = 64


def prepare(scratch: Path) -> tuple[Path, Any, Any]:
    """Train the AI4I pipeline and register it as ``ai4i/1``, approved, in a scratch home."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    import slipway
    from slipway.core.settings import load_settings
    from slipway.models.logging import log_model
    from slipway.workspace import open_workspace

    frame = pd.read_csv(_peer.REPO.parent / "shared" / "data" / "ai4i2020" / "ai4i2020.csv")
    features, label = frame[FEATURES], frame["Machine failure"]
    encode = ColumnTransformer([("type", OneHotEncoder(handle_unknown="ignore"), ["Type"])], remainder="passthrough")
    pipeline = Pipeline([("encode", encode), ("model", RandomForestClassifier(50, max_depth=10, random_state=0,
                                                                              n_jobs=1))]).fit(features, label)
    home = scratch / "slipway-home"
    ws = open_workspace(load_settings(home=home, user="", server_url="", token=""))
    with ws.tracking.start_run("soak-train"):
        info = log_model(ws, pipeline, input_example=features.head(20), registered_model_name="ai4i")
    request = ws.governance.request_approval(f"ai4i/{info.version}", "soak")
    # a second person approves (four eyes): enrolled the way a person is, with a signing key
    ws.identity.create_user("soak-approver", ["approver"])
    key = scratch / "soak-approver.key"
    ws.identity.add_key("soak-approver", slipway.generate_signing_key(key, "soak-approver@bench"))
    approver = open_workspace(load_settings(home=home, user="soak-approver", signing_key=str(key), server_url="",
                                            token=""))
    approver.governance.approve(request.id, "soak")
    return home, pipeline, features


def process_rss_mb(group: int) -> dict[str, float]:
    """The RSS (MiB) of each process of the server's group: the supervisor first, then its workers."""
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                fields = Path(f"/proc/{entry.name}/stat").read_bytes().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group:
                found[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return {("supervisor" if pid == group else str(pid)): round(mb, 1) for pid, mb in sorted(found.items())}


def process_anon_mb(group: int) -> dict[str, float]:
    """The anonymous resident memory (``RssAnon``, MiB) of each process of the server's group: what
    a leak grows. The RSS also counts mapped library and file pages, which the kernel drops and
    reads back as the shared host's page cache comes and goes (a few MB either way)."""
    found = {}
    for key in process_rss_mb(group):
        pid = group if key == "supervisor" else int(key)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("RssAnon:"):
                found[key] = round(int(line.split()[1]) / 1024, 1)
    return found


def _server(home: Path, port: int, workers: int) -> list[str]:
    return [str(_peer.SLIPWAY_PYTHON), "-m", "slipway.cli.main", "serve", "ai4i/1", "--port", str(port),
            "--workers", str(workers)]


def sweep(counts: list[int], window: float, scratch: Path, home: Path, features: Any, env: dict[str, str]) -> None:
    """Requests/s at saturation for each worker count; the curve, its exponent and a plot."""
    import subprocess

    import scale

    body = body_for(features, 1, 200)
    points = []
    for workers in counts:
        port = _peer.free_port()
        with _peer.Background(_server(home, port, workers), env=env, cwd=scratch) as server:
            server.wait_http(f"http://127.0.0.1:{port}/readyz", 600)
            url = f"http://127.0.0.1:{port}/invocations"
            wrk(url, body, CONNECTIONS, 5.0, scratch)
            runs = [wrk(url, body, CONNECTIONS, window, scratch) for _ in range(2)]
        point = {"curve": "serving.throughput_rows1_conc64", "size": workers,
                 "rps": round(statistics.median(r["rps"] for r in runs), 1),
                 "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
                 "non_2xx": sum(r["non_2xx"] for r in runs)}
        point["p50_ms"] = round(1000.0 / point["rps"], 3)  # ms per request: what the exponent is fitted on
        points.append(point)
        print(json.dumps({"workload": WORKLOAD, **point}), flush=True)
    slope = scale.exponent(points)
    print(json.dumps({"workload": WORKLOAD, "curve": "serving.throughput_rows1_conc64", "workers": counts,
                      "rps": [p["rps"] for p in points], "exponent": round(-slope, 3)}), flush=True)
    results = _peer.BENCH_DIR / "serving-sweep.json"
    results.write_text(json.dumps({"curves": {"serving.throughput_rows1_conc64": {"points": points,
                                                                                  "exponent": round(-slope, 3)}}}))
    python = scale.MATPLOTLIB.ensure()
    subprocess.run([str(python), scale.__file__, "--plot", str(results)], check=False, timeout=600)


def main() -> None:
    parser = _peer.argument_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--window", type=float, default=None)
    parser.add_argument("--sweep", default="", help="worker counts, e.g. 1,2,4: throughput against workers")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk (apt-get install wrk)")
    seconds = args.seconds or (60.0 if args.quick else 600.0)
    window = args.window or (10.0 if args.quick else 60.0)
    scratch = _peer.BENCH_DIR / "serving_soak"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    home, pipeline, features = prepare(scratch)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}, "SLIPWAY_HOME": str(home)}
    if args.sweep:
        sweep([int(n) for n in args.sweep.split(",")], window, scratch, home, features, env)
        return
    port = _peer.free_port()
    url = f"http://127.0.0.1:{port}/invocations"
    body = body_for(features, 1, 200)
    windows: list[dict[str, Any]] = []
    with _peer.Background(_server(home, port, WORKERS), env=env, cwd=scratch) as server:
        server.wait_http(f"http://127.0.0.1:{port}/readyz", 600)
        same = post(url, body)["predictions"] == pipeline.predict(features.iloc[200:201]).tolist()
        wrk(url, body, CONNECTIONS, 5.0, scratch)  # warm-up
        for index in range(max(1, round(seconds / window))):
            result = wrk(url, body, CONNECTIONS, window, scratch)
            result["rss_mb"] = round(_peer.group_rss_mb(server.process.pid), 1)
            result["rss_each_mb"] = process_rss_mb(server.process.pid)
            result["anon_each_mb"] = process_anon_mb(server.process.pid)
            result["load_average"] = round(os.getloadavg()[0], 1)
            result["window"] = index
            windows.append(result)
            print(json.dumps({"workload": WORKLOAD, "case": "window", **result}), flush=True)
    quarter = max(1, len(windows) // 4)
    first, last = windows[:quarter], windows[-quarter:]
    p99_first = statistics.median(w["p99_ms"] for w in first)
    p99_last = statistics.median(w["p99_ms"] for w in last)
    clean = all(w["non_2xx"] == 0 and w["socket_errors"] == 0 for w in windows)
    trend = _soak.memory_trend([w["rss_mb"] for w in windows])
    anon = [round(sum(w["anon_each_mb"].values()), 1) for w in windows]
    flat = bool(trend["flat"])
    stable = p99_last <= 2 * p99_first
    print(json.dumps({"workload": WORKLOAD, "case": f"workers{WORKERS}_conc{CONNECTIONS}_rows1",
                      "seconds": round(seconds), "slipway": round(statistics.median(w["rps"] for w in windows), 1),
                      "unit": "requests/s", "non_2xx": sum(w["non_2xx"] for w in windows),
                      "socket_errors": sum(w["socket_errors"] for w in windows),
                      "p99_first_quarter_ms": round(p99_first, 2), "p99_last_quarter_ms": round(p99_last, 2),
                      "rss_mb": [w["rss_mb"] for w in windows], "memory_trend": trend,
                      "anon_mb": anon, "anon_trend": _soak.memory_trend(anon),
                      "load_average": os.getloadavg(),
                      "same_predictions": same,
                      "checks": "ok" if clean and flat and stable and same else "failed"}), flush=True)


if __name__ == "__main__":
    main()
