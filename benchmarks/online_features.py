"""Benchmark ``online_features``: online lookups of 50 features, Slipway vs Feast 0.67 (SQLite store).

Cases (BENCHMARKS.md):

- ``online_1x50_inprocess`` — one entity, 50 features, in-process: ``ws.features.online`` vs
  Feast's ``get_online_features(...).to_dict()``, both on their embedded SQLite online store
  after materialising 10,000 customers. Median per-call time over many calls, per round.
- ``online_100x50_inprocess`` — the same with 100 entities per call.
- ``online_1x50_http`` — one entity over HTTP: ``POST /online`` on ``slipway features serve`` (the
  standalone feature server, as ``feast serve`` is Feast's) vs ``POST /get-online-features`` on
  ``feast serve``, the same httpx client for both.

``checks`` is ``ok`` when both sides return the same 50 values for the same sampled entities and
every value is present. Run::

    .venv/bin/python benchmarks/online_features.py [--quick] [--rounds N]
"""

from __future__ import annotations

import json
import statistics
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
        return {"home": str(Path(spec["scratch"]) / "slipway" / "home")}
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


def http_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {spec['token']}"} if spec.get("token") else {}
    with httpx.Client(base_url=spec["url"], headers=headers, timeout=60) as client:
        def call(number: int) -> None:
            body = json.loads(spec["body"].replace("ENTITY", str(number % CUSTOMERS)))
            response = client.post(spec["path"], json=body)
            response.raise_for_status()

        ms = _per_call_ms(call, spec["calls"])
        sample = client.post(spec["path"], json=json.loads(spec["body"].replace("ENTITY", str(SAMPLE[0])))).json()
    return {"one_ms": ms, "sample": sample}


WORKERS = {"slipway": slipway_worker, "feast": feast_worker, "http": http_worker}


def _run(python: Path, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _peer.run_json(python, [__file__, "--worker", name, "--spec", json.dumps(spec)], timeout=3600).payload


def _http_values(answer: dict[str, Any]) -> list[float]:
    if "values" in answer and isinstance(answer["values"], dict):  # Slipway
        return [answer["values"][f][0] for f in FEATURES]
    names = answer["metadata"]["feature_names"]  # Feast: columns by name
    return [answer["results"][names.index(f)]["values"][0] for f in FEATURES]


def main() -> None:
    args = _peer.argument_parser(__doc__ or "").parse_args()
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
        home = _run(_peer.SLIPWAY_PYTHON, "slipway", {**base, "setup_only": True})["home"]
        feast_folder = _run(feast, "feast", {**base, "setup_only": True})["folder"]
        results = _peer.alternate(rounds, {"slipway": lambda _: _run(_peer.SLIPWAY_PYTHON, "slipway", base),
                                           "feast": lambda _: _run(feast, "feast", base)})
        same = all(a["sample"] == b["sample"] and a["present"] and b["present"]
                   for a, b in zip(results["slipway"], results["feast"], strict=True))
        checks = "ok" if same else "failed"
        for case, key in (("online_1x50_inprocess", "one_ms"), ("online_100x50_inprocess", "hundred_ms")):
            ours, theirs = (_peer.median([r[key] for r in results[s]]) for s in ("slipway", "feast"))
            _peer.emit(WORKLOAD, case, ours, theirs, "ms/call", theirs / ours, FEAST.version, checks,
                       entities=1 if key == "one_ms" else 100, features=len(FEATURES))
        ours_port, theirs_port = _free_port(), _free_port()
        slipway_server = _peer.Background([_peer.SLIPWAY_PYTHON.parent / "slipway", "features", "serve", "--port",
                                           str(ours_port)], env={"SLIPWAY_HOME": home, "SLIPWAY_SERVER_URL": ""})
        feast_server = _peer.Background([Path(feast).parent / "feast", "serve", "-p", str(theirs_port), "--no-access-log"],
                                        cwd=feast_folder)
        try:
            slipway_server.wait_http(f"http://127.0.0.1:{ours_port}/healthz")
            feast_server.wait_http(f"http://127.0.0.1:{theirs_port}/health", 180)
            ours_body = json.dumps({"features": "wide", "entities": [{"customer_id": "ENTITY"}]}).replace('"ENTITY"', "ENTITY")
            theirs_body = json.dumps({"features": [f"wide:{f}" for f in FEATURES],
                                      "entities": {"customer_id": ["ENTITY"]}}).replace('"ENTITY"', "ENTITY")
            http = _peer.alternate(rounds, {
                "slipway": lambda _: _run(_peer.SLIPWAY_PYTHON, "http", {
                    "url": f"http://127.0.0.1:{ours_port}", "path": "/online", "body": ours_body, "calls": calls}),
                "feast": lambda _: _run(_peer.SLIPWAY_PYTHON, "http", {
                    "url": f"http://127.0.0.1:{theirs_port}", "path": "/get-online-features", "body": theirs_body,
                    "calls": calls})})
        finally:
            ours_rss, theirs_rss = slipway_server.stop(), feast_server.stop()
        http_same = all(_http_values(a["sample"]) == _http_values(b["sample"]) == results["slipway"][0]["sample"][0]
                        for a, b in zip(http["slipway"], http["feast"], strict=True))
        ours, theirs = (_peer.median([r["one_ms"] for r in http[s]]) for s in ("slipway", "feast"))
        _peer.emit(WORKLOAD, "online_1x50_http", ours, theirs, "ms/call", theirs / ours, FEAST.version,
                   "ok" if http_same else "failed", slipway_server_rss_mb=round(ours_rss, 1),
                   peer_server_rss_mb=round(theirs_rss, 1))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
