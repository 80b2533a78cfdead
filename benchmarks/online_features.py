"""Benchmark ``online_features``: online lookups of 50 features, Slipway vs Feast 0.67 (SQLite store).

Cases (BENCHMARKS.md):

- ``online_1x50_inprocess`` — one entity, 50 features, in-process: ``ws.features.online`` vs
  Feast's ``get_online_features(...).to_dict()``, both on their embedded SQLite online store
  after materialising 10,000 customers. Median per-call time over many calls, per round.
- ``online_100x50_inprocess`` — the same with 100 entities per call.
- ``online_1x50_http`` — one entity over HTTP: ``POST /online`` on ``slipway features serve`` (the
  standalone feature server, as ``feast serve`` is Feast's) vs ``POST /get-online-features`` on
  ``feast serve`` (one process each), both driven by the same load client, ``wrk`` (the Debian
  package; ``scripts/services.sh`` installs it), one thread, a different entity per request. Both
  servers run at once and wrk drives one at a time, A B A B …, 10 s per round (3 s with
  ``--quick``), at 8 connections and at 1. The headline is each server's CPU time per call at 8
  connections (user + system of its whole process group, read from /proc around each wrk run):
  what a call costs the server, which is what bounds its throughput per core. On a shared,
  loaded machine requests/s mostly measures how often the scheduler runs each process, so it
  moves by a factor of two between runs; it is on the line too (``c8_*_rps``, ``c1_*_rps`` and
  their ``*_rps_ratio``), with p50/p99 latency. A Python client would spend more CPU per call
  than our server does and measure itself. ``feast serve`` runs with ``--max-requests 0`` (no
  worker restart every ~1,000 requests).

``checks`` is ``ok`` when both sides return the same 50 values for the same sampled entities and
every value is present (over HTTP: before and after the load, and wrk saw no failed request or
non-2xx answer). Run::

    .venv/bin/python benchmarks/online_features.py [--quick] [--rounds N] [--http-only]
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peer  # noqa: E402 - after the path set-up above

WORKLOAD = "online_features"
FEAST = _peer.Peer("feast", ["feast[duckdb]==0.67.0"])
FEATURES = [f"f{i:02d}" for i in range(50)]
CUSTOMERS = 10_000
SAMPLE = [7, 1234, 9999]
# wrk connections for the HTTP case's headline: enough to keep a one-process server busy.
CONNECTIONS = 8
WRK = shutil.which("wrk")


def make_data(path: Path) -> Path:
    import numpy as np
    import pandas as pd

    if not path.exists():
        rng = np.random.default_rng(50)
        frame = pd.DataFrame({"customer_id": np.arange(CUSTOMERS),
                              "event_timestamp": pd.Timestamp("2026-01-01", tz="UTC")
                              + pd.to_timedelta(rng.integers(0, 86400, CUSTOMERS), unit="s")})
        for name in FEATURES:
            frame[name] = rng.normal(size=CUSTOMERS).round(6)
        frame.to_parquet(path)
    return path


def _per_call_ms(call: Any, calls: int) -> float:
    """Median of per-call times (ms) over ``calls`` calls, after a few warm-up calls."""
    for _ in range(5):
        call(0)
    times = []
    for number in range(calls):
        started = time.perf_counter()
        call(number)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _batch(number: int, size: int) -> list[int]:
    start = (number * 7919) % (CUSTOMERS - size)
    return list(range(start, start + size))


def slipway_setup(spec: dict[str, Any]) -> Any:
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
name: wide
entities: [customer]
source: {{path: {spec['data']}}}
ttl: 3650d
features: {{{', '.join(f'{n}: float64' for n in FEATURES)}}}
""")
    ws = slipway.connect(str(home / "home"))
    if not ws.features.definitions():
        ws.features.apply(repo)
        ws.features.materialize()
    return ws


def slipway_worker(spec: dict[str, Any]) -> dict[str, Any]:
    ws = slipway_setup(spec)
    if spec.get("setup_only"):
        found = ws.features.online("wide", [{"customer_id": SAMPLE[0]}])
        return {"home": str(Path(spec["scratch"]) / "slipway" / "home"), "sample": [found.values[f][0] for f in FEATURES]}
    one = _per_call_ms(lambda n: ws.features.online("wide", [{"customer_id": n % CUSTOMERS}]), spec["calls"])
    hundred = _per_call_ms(lambda n: ws.features.online("wide", [{"customer_id": c} for c in _batch(n, 100)]),
                           max(1, spec["calls"] // 10))
    found = ws.features.online("wide", [{"customer_id": c} for c in SAMPLE])
    sample = [[found.values[f][i] for f in FEATURES] for i in range(len(SAMPLE))]
    present = all(s == "present" for f in FEATURES for s in found.status[f])
    return {"one_ms": one, "hundred_ms": hundred, "sample": sample, "present": present}


FEAST_CONFIG = """project: online
registry: {folder}/registry.db
provider: local
offline_store:
  type: duckdb
online_store:
  type: sqlite
  path: {folder}/online.db
entity_key_serialization_version: 3
"""


def feast_setup(spec: dict[str, Any]) -> Any:
    import datetime as dt

    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.types import Float64, Int64

    folder = Path(spec["scratch"]) / "feast"
    fresh = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feature_store.yaml").write_text(FEAST_CONFIG.format(folder=folder))
    customer = Entity(name="customer", join_keys=["customer_id"], value_type=Int64.to_value_type())
    view = FeatureView(name="wide", entities=[customer], ttl=dt.timedelta(days=3650),
                       source=FileSource(path=spec["data"], timestamp_field="event_timestamp"),
                       schema=[Field(name=n, dtype=Float64) for n in FEATURES])
    (folder / "repo.py").write_text(REPO_PY.format(data=spec["data"], features=FEATURES))
    store = FeatureStore(repo_path=str(folder))
    if fresh:
        store.apply([customer, view])
        store.materialize(dt.datetime(2025, 12, 1, tzinfo=dt.UTC), dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    return store


# ``feast serve`` loads the repository from its folder, so the same definitions are written there.
REPO_PY = """import datetime as dt
from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64, Int64
customer = Entity(name="customer", join_keys=["customer_id"], value_type=Int64.to_value_type())
wide = FeatureView(name="wide", entities=[customer], ttl=dt.timedelta(days=3650),
                   source=FileSource(path="{data}", timestamp_field="event_timestamp"),
                   schema=[Field(name=n, dtype=Float64) for n in {features}])
"""


def feast_worker(spec: dict[str, Any]) -> dict[str, Any]:
    store = feast_setup(spec)
    if spec.get("setup_only"):
        return {"folder": str(Path(spec["scratch"]) / "feast")}
    refs = [f"wide:{f}" for f in FEATURES]
    one = _per_call_ms(lambda n: store.get_online_features(features=refs, entity_rows=[{"customer_id": n % CUSTOMERS}]
                                                           ).to_dict(), spec["calls"])
    hundred = _per_call_ms(lambda n: store.get_online_features(
        features=refs, entity_rows=[{"customer_id": c} for c in _batch(n, 100)]).to_dict(), max(1, spec["calls"] // 10))
    found = store.get_online_features(features=refs, entity_rows=[{"customer_id": c} for c in SAMPLE]).to_dict()
    sample = [[found[f][i] for f in FEATURES] for i in range(len(SAMPLE))]
    return {"one_ms": one, "hundred_ms": hundred, "sample": sample, "present": all(v is not None for r in sample for v in r)}


# The load client for both servers: wrk (C, one thread, keep-alive connections). This Lua script
# builds 1,000 POSTs, each for a different entity, once at start-up and sends them in turn (a
# request built per call in Lua stalls wrk between requests when the body is long, as Feast's 50
# feature names make it), and prints what it measured as one JSON line. A Python client costs
# more CPU per call than our server does, so it would measure itself; wrk costs a few
# microseconds per request, the same for both sides.
WRK_LUA = """
local path, head, tail, customers = [==[{path}]==], [==[{head}]==], [==[{tail}]==], {customers}
wrk.headers["Content-Type"] = "application/json"
local prepared = {{}}
for i = 0, 999 do
  prepared[i + 1] = wrk.format("POST", path, nil, head .. ((i * 7919) % customers) .. tail)
end
local sent = 0
request = function()
  sent = sent % 1000 + 1
  return prepared[sent]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {{"requests": %d, "seconds": %.6f, "socket_errors": %d, "non_2xx": %d, ' ..
    '"p50_ms": %.4f, "p90_ms": %.4f, "p99_ms": %.4f, "max_ms": %.4f}}\\n', summary.requests,
    summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50) / 1e3,
    latency:percentile(90) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end
"""


def wrk_run(server: _peer.Background, url: str, path: str, body: str, connections: int, seconds: float,
            folder: str) -> dict[str, Any]:
    """Drive ``POST url+path`` with wrk for ``seconds`` over ``connections`` connections; the
    ``ENTITY`` in ``body`` becomes a different customer id per request. Requests/s, latency
    percentiles (ms) and the server's CPU time per request (µs: user + system of its whole process
    group, so the load on the rest of the machine does not count), refusing a run with any failed
    request."""
    head, _, tail = body.partition("ENTITY")
    script = Path(folder) / f"wrk-{abs(hash((path, body)))}.lua"
    script.write_text(WRK_LUA.format(path=path, head=head, tail=tail, customers=CUSTOMERS))
    cpu = _peer.group_cpu_seconds(server.process.pid)
    done = subprocess.run([WRK, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(script),
                           url], capture_output=True, text=True, timeout=seconds + 120, check=True)
    cpu = _peer.group_cpu_seconds(server.process.pid) - cpu
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK "))
    found = json.loads(line[4:])
    if found["requests"] == 0 or found["socket_errors"] or found["non_2xx"]:
        raise RuntimeError(f"wrk against {url}{path}: {found}\n{done.stdout}")
    return {"rps": found["requests"] / found["seconds"], "cpu_us": cpu * 1e6 / found["requests"], **found}


def http_sample(url: str, path: str, body: str) -> dict[str, Any]:
    import urllib.request

    request = urllib.request.Request(url + path, body.replace("ENTITY", str(SAMPLE[0])).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return dict(json.loads(response.read()))


WORKERS = {"slipway": slipway_worker, "feast": feast_worker}


def _run(python: Path, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _peer.run_json(python, [__file__, "--worker", name, "--spec", json.dumps(spec)], timeout=3600).payload


def _http_values(answer: dict[str, Any]) -> list[float]:
    if "values" in answer and isinstance(answer["values"], dict):  # Slipway
        return [answer["values"][f][0] for f in FEATURES]
    names = answer["metadata"]["feature_names"]  # Feast: columns by name
    return [answer["results"][names.index(f)]["values"][0] for f in FEATURES]


def main() -> None:
    parser = _peer.argument_parser(__doc__ or "")
    parser.add_argument("--http-only", action="store_true", help="only the HTTP case (profiling a server)")
    args = parser.parse_args()
    if args.worker:
        _peer.worker_main(WORKERS, args.worker, args.spec)
        return
    rounds, calls = args.rounds or 3, 300 if args.quick else 2000
    folder = _peer.BENCH_DIR / "online-data"
    folder.mkdir(parents=True, exist_ok=True)
    data = make_data(folder / "wide.parquet")
    feast = FEAST.ensure()
    with tempfile.TemporaryDirectory(dir=_peer.BENCH_DIR) as scratch:
        base = {"data": str(data), "scratch": scratch, "calls": calls}
        ready = _run(_peer.SLIPWAY_PYTHON, "slipway", {**base, "setup_only": True})
        feast_folder = _run(feast, "feast", {**base, "setup_only": True})["folder"]
        if not args.http_only:
            in_process(rounds, feast, base)
        http_case(rounds, 3 if args.quick else 10, ready["home"], feast, feast_folder, scratch, ready["sample"])


def in_process(rounds: int, feast: Path, base: dict[str, Any]) -> None:
    results = _peer.alternate(rounds, {"slipway": lambda _: _run(_peer.SLIPWAY_PYTHON, "slipway", base),
                                       "feast": lambda _: _run(feast, "feast", base)})
    same = all(a["sample"] == b["sample"] and a["present"] and b["present"]
               for a, b in zip(results["slipway"], results["feast"], strict=True))
    checks = "ok" if same else "failed"
    for case, key in (("online_1x50_inprocess", "one_ms"), ("online_100x50_inprocess", "hundred_ms")):
        ours, theirs = (_peer.median([r[key] for r in results[s]]) for s in ("slipway", "feast"))
        _peer.emit(WORKLOAD, case, ours, theirs, "ms/call", theirs / ours, FEAST.version, checks,
                   entities=1 if key == "one_ms" else 100, features=len(FEATURES))


def http_case(rounds: int, seconds: float, home: str, feast: Path, feast_folder: str, scratch: str,
              expected: list[float]) -> None:
    """``online_1x50_http``: both servers up at once, wrk driving one at a time (A B A B …) at
    :data:`CONNECTIONS` connections (the headline: requests/s with the server saturated) and at 1
    (latency of a lone caller)."""
    if WRK is None:
        raise SystemExit("wrk is not installed: run scripts/services.sh (or apt-get install wrk)")
    ours_port, theirs_port = _peer.free_port(), _peer.free_port()
    slipway_server = _peer.Background([_peer.SLIPWAY_PYTHON.parent / "slipway", "features", "serve", "--port",
                                       str(ours_port)], env={"SLIPWAY_HOME": home, "SLIPWAY_SERVER_URL": ""})
    # --max-requests 0: by default gunicorn restarts Feast's worker every ~1,000 requests (a guard
    # against leaks), a pause of seconds each time; off, Feast is measured at its best.
    feast_server = _peer.Background([Path(feast).parent / "feast", "serve", "-p", str(theirs_port), "--no-access-log",
                                     "--max-requests", "0"], cwd=feast_folder)
    ours_body = json.dumps({"features": "wide", "entities": [{"customer_id": "ENTITY"}]}).replace('"ENTITY"', "ENTITY")
    theirs_body = json.dumps({"features": [f"wide:{f}" for f in FEATURES],
                              "entities": {"customer_id": ["ENTITY"]}}).replace('"ENTITY"', "ENTITY")
    sides = {"slipway": (f"http://127.0.0.1:{ours_port}", "/online", ours_body),
             "feast": (f"http://127.0.0.1:{theirs_port}", "/get-online-features", theirs_body)}
    servers = {"slipway": slipway_server, "feast": feast_server}
    try:
        slipway_server.wait_http(f"http://127.0.0.1:{ours_port}/healthz")
        feast_server.wait_http(f"http://127.0.0.1:{theirs_port}/health", 180)
        same = all(_http_values(http_sample(*side)) == expected for side in sides.values())
        runs = {connections: _peer.alternate(rounds, {name: lambda _, name=name, side=side, c=connections: wrk_run(
                    servers[name], *side, c, seconds, scratch) for name, side in sides.items()})
                for connections in (CONNECTIONS, 1)}
        same = same and all(_http_values(http_sample(*side)) == expected for side in sides.values())
    finally:
        ours_rss, theirs_rss = slipway_server.stop(), feast_server.stop()

    def med(connections: int, name: str, key: str) -> float:
        return _peer.median([r[key] for r in runs[connections][name]])

    extra: dict[str, Any] = {"client": "wrk -t1", "connections": CONNECTIONS, "seconds_per_round": seconds}
    for connections, label in ((CONNECTIONS, f"c{CONNECTIONS}"), (1, "c1")):
        for name, short in (("slipway", "slipway"), ("feast", "peer")):
            extra[f"{label}_{short}_rps"] = round(med(connections, name, "rps"), 1)
            for key in ("p50_ms", "p99_ms"):
                extra[f"{label}_{short}_{key}"] = round(med(connections, name, key), 3)
            if connections == 1:
                extra[f"{label}_{short}_cpu_us_per_call"] = round(med(connections, name, "cpu_us"), 1)
        extra[f"{label}_rps_ratio"] = round(med(connections, "slipway", "rps") / med(connections, "feast", "rps"), 2)
    ours, theirs = med(CONNECTIONS, "slipway", "cpu_us"), med(CONNECTIONS, "feast", "cpu_us")
    _peer.emit(WORKLOAD, "online_1x50_http", ours, theirs, "server CPU µs/call", theirs / ours, FEAST.version,
               "ok" if same else "failed", **extra, slipway_server_rss_mb=round(ours_rss, 1),
               peer_server_rss_mb=round(theirs_rss, 1))


if __name__ == "__main__":
    main()
