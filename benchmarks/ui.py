"""Benchmark ``ui``: the web UI's pages with 10,000 runs and a 1,000,000-point metric series.

Cases (BENCHMARKS.md): ``runs_page_10k`` — the runs table (50 runs a page, newest first, the
default columns) of an experiment of 10,000 runs with 5 params and 5 metrics each;
``run_chart_1m_points`` — the chart page of a run whose ``loss`` series has 1,000,000 points
(downsampled in SQL to at most 2,000). Also measured, reported in the same lines: the runs page
with a filter using ``or`` and ordered by a metric, and the chart's zoom request (the series JSON).

``slipway server`` runs as a child process over a store built once and cached under
``.bench/data/`` (a marker is written last); the driver signs in as the bootstrap admin and
times each request over loopback HTTP, one at a time, after warm-up. That is the server's time
plus a loopback round trip. Reported: p50 and p95 in milliseconds (the goal is a p95 under
200 ms) and the first request's time. Nothing is cached between requests: a chart is read from
the series' summary kept as points are logged (``slipway.tracking.series``), so the first view of
a million-point series costs what later views cost. ``checks`` is ``ok`` only if each page holds
what it must (50 rows; a chart of the whole series drawn from at most 2,000 points). The MLflow UI is not measured side by side yet, so
``peer`` is null and ``ratio`` is the goal divided by the measured p95. Run::

    .venv/bin/python benchmarks/ui.py [--quick] [--requests N]

``--quick`` uses 1,000 runs and 100,000 points.
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import socket
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peer  # noqa: E402 - after the path set-up above

WORKLOAD = "ui"
DATA_VERSION = 2  # 2: the metric summary (migration 0023) built as points are logged
GOAL_MS = 200.0
TOKEN = "slw_bench-ui-admin-token"
ROOT = Path(__file__).resolve().parents[1]


def build_store(home: Path, runs: int, points: int) -> None:
    """Runs (5 params, 5 metrics each) and one run with a ``points``-long ``loss`` series."""
    from slipway.core.settings import load_settings
    from slipway.local.transport import LocalTransport

    tracking = LocalTransport(load_settings(home=home, server_url="", token="")).backend("tracking")
    experiment = tracking.create_experiment("bench").id
    rng = random.Random(10_000)
    models = ["rf", "gbm", "lr", "xgb", "mlp"]
    for index in range(runs):
        run = tracking.create_run(experiment, f"run-{index}")
        metrics = [(f"m{k}", rng.random(), 0, 1_700_000_000_000) for k in range(5)]
        params = {"model": models[index % 5], "depth": str(rng.randint(2, 12)), "lr": f"{rng.random():.3f}",
                  "seed": str(index), "features": str(rng.randint(5, 50))}
        tracking.log_batch(run.id, metrics, params=params)
        tracking.end_run(run.id)
    long = tracking.create_run(experiment, "long-training")
    chunk = 20_000
    for start in range(0, points, chunk):
        tracking.log_batch(long.id, [("loss", 1 / (1 + s / 1000) + rng.random() * 0.01, s, 1_700_000_000_000 + s)
                                     for s in range(start, min(points, start + chunk))])
    tracking.end_run(long.id)


def cached_store(runs: int, points: int) -> Path:
    home = ROOT / ".bench" / "data" / f"ui-v{DATA_VERSION}-{runs}-{points}"
    if not (home / "ready").exists():
        shutil.rmtree(home, ignore_errors=True)
        started = time.monotonic()
        build_store(home, runs, points)
        (home / "ready").write_text(f"built in {time.monotonic() - started:.0f} s\n")
    return home


def sign_in(client: httpx.Client) -> None:
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/signin").text)
    assert nonce, "no sign-in form"
    done = client.post("/signin", data={"nonce": nonce.group(1), "token": TOKEN, "next": "/"})
    assert done.status_code == 303, done.text[:500]


def timed(client: httpx.Client, path: str, count: int) -> tuple[list[float], str, float]:
    """``count`` timings after warm-up, the last body, and the first (cold) request's time."""
    started = time.perf_counter()
    client.get(path)
    cold = (time.perf_counter() - started) * 1000
    for _ in range(2):  # warm-up
        client.get(path)
    times, body = [], ""
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        body = response.text
    return times, body, cold


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def main() -> None:
    parser = _peer.argument_parser(__doc__ or "")
    parser.add_argument("--requests", type=int, default=60, help="measured requests per page")
    args = parser.parse_args()
    runs, points = (1_000, 100_000) if args.quick else (10_000, 1_000_000)
    home = cached_store(runs, points)
    port = free_port()
    env = {"SLIPWAY_HOME": str(home), "SLIPWAY_BOOTSTRAP_TOKEN": TOKEN, "SLIPWAY_SERVER_URL": "", "SLIPWAY_TOKEN": ""}
    server = _peer.Background([sys.executable, "-m", "slipway.cli.main", "server", "--port", str(port)], env=env)
    results = []
    try:
        server.wait_http(f"http://127.0.0.1:{port}/healthz")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            sign_in(client)
            long_id = re.search(r'href="/runs/([0-9a-f]+)" class="run-link">long-training<',
                                client.get("/runs", params={"filter": "attributes.run_name = 'long-training'"}).text)
            assert long_id, "the long run is missing"
            pages = {
                "runs_page": "/runs?experiment=bench",
                "runs_page_or_filter": "/runs?experiment=bench&filter=" + httpx.QueryParams(
                    {"f": "(params.model = 'rf' or params.model = 'xgb') and metrics.m0 > 0.5"})["f"]
                .replace(" ", "+") + "&order=metrics.%60m1%60+DESC",
                "chart_page": f"/runs/{long_id.group(1)}/chart?key=loss",
                "chart_zoom": f"/runs/{long_id.group(1)}/series?key=loss&min_step={points // 4}&max_step={points // 2}",
            }
            measured = {name: timed(client, path, args.requests) for name, path in pages.items()}
    finally:
        peak = server.stop()
    rows = len(re.findall(r'class="run-link"', measured["runs_page"][1]))
    chart = json.loads(re.search(r'id="chart-data">(.*?)</script>', measured["chart_page"][1], re.S).group(1))  # type: ignore[union-attr]
    series = chart[0]["runs"][0]
    checks_runs = "ok" if rows == 50 and len(re.findall(r'class="run-link"', measured["runs_page_or_filter"][1])) == 50 \
        else f"rows {rows}"
    checks_chart = "ok" if series["total"] == points and 0 < len(series["steps"]) <= 2000 else \
        f"total {series['total']}, drawn {len(series['steps'])}"
    size = f"{runs // 1000}k" if runs % 1000 == 0 else str(runs)
    for case, main_page, extra_page, checks in (
            (f"runs_page_{size}", "runs_page", "runs_page_or_filter", checks_runs),
            (f"run_chart_{points // 1_000_000}m_points" if points >= 1_000_000 else f"run_chart_{points // 1000}k_points",
             "chart_page", "chart_zoom", checks_chart)):
        times, extra = measured[main_page][0], measured[extra_page][0]
        line = {"workload": WORKLOAD, "case": case, "slipway": round(p95(times), 2), "peer": None, "unit": "ms p95",
                "ratio": round(GOAL_MS / p95(times), 2), "peer_version": "none (goal: p95 < 200 ms)", "checks": checks,
                "p50_ms": round(statistics.median(times), 2), "first_request_ms": round(measured[main_page][2], 1), f"{extra_page}_p95_ms": round(p95(extra), 2),
                f"{extra_page}_p50_ms": round(statistics.median(extra), 2), "requests": len(times),
                "server_peak_rss_mb": round(peak, 1), "runs": runs, "points": points,
                "points_drawn": len(series["steps"])}
        results.append(line)
    for line in results:
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
