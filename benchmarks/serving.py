"""Serving benchmark: Slipway's inference server vs ``mlflow models serve`` on the same AI4I model.

Both servers serve the same fitted scikit-learn pipeline (pickled once, saved as an MLflow model in
MLflow's own venv and registered in Slipway as ai4i@champion), with the same worker count, and get
the same ``/invocations`` ``dataframe_split`` bodies from ``wrk`` (apt package) over loopback.
Cases, alternating Slipway and MLflow each round after a warm-up:

- ``rows1_conc1``, ``rows1_conc32``, ``rows32_conc1``, ``rows32_conc32``: requests per second
  (median over rounds), with each side's p99 latency; ``ratio`` = Slipway rps / MLflow rps.
- ``overhead_p50_ms``: Slipway's p50 latency for a 1-row request at 1 connection minus the p50 of
  the same model call the server makes, in-process, on the same row (the limit: the registered
  model's predict on the decoded row, which for this pipeline is Slipway's compiled path, proven
  equal to ``pipeline.predict``); ``ratio`` = 0.2 ms / overhead. ``pipeline.predict``'s own p50
  (scikit-learn's, what MLflow calls) is reported beside it. So is ``floor_p50_ms``: the p50 of a
  bare ASGI app on the same uvicorn/httptools/uvloop stack answering a fixed body (no Slipway, no
  model), measured by the same ``wrk`` in the same rounds, between the two servers. It is what any
  Python server pays on this machine at this moment (loopback, wake-ups, the scheduler under the
  shared machine's load); it is reported, not subtracted, so the headline stays what a caller
  pays over the model call, and ``overhead_over_floor_ms`` shows Slipway's own share.

``checks`` is ``ok`` only when both servers returned exactly the in-process ``pipeline.predict``
predictions for every body the cases send and for all 10,000 AI4I rows (in 500-row requests), and
Slipway answered nothing but 2xx during the measurements (the peer's failures are reported as
``peer_failed_requests``).

    python benchmarks/serving.py            # 30 s per case and side, 3 rounds
    python benchmarks/serving.py --quick    # 2 s per case and side, 2 rounds
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _peer  # noqa: E402

WORKLOAD = "serving"
MLFLOW = _peer.Peer("mlflow", ["mlflow==3.17.2"])
WORKERS = 2
FEATURES = ["Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
            "Tool wear [min]"]


# -- worker side (runs inside MLflow's venv) ----------------------------------------------------
def mlflow_save(spec: dict[str, Any]) -> dict[str, Any]:
    import pickle

    import mlflow.sklearn
    import pandas as pd

    with open(spec["pickle"], "rb") as handle:
        model = pickle.load(handle)
    example = pd.DataFrame(spec["example"]["data"], columns=spec["example"]["columns"])
    # MLflow 3.17 defaults to skops, which refuses tree models without a trust list; cloudpickle is
    # what `mlflow.sklearn.log_model` users get by passing serialization_format, and it loads fastest.
    mlflow.sklearn.save_model(model, spec["path"], input_example=example,
                              serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE)
    return {"saved": spec["path"], "mlflow": mlflow.__version__}


# -- driver side (Slipway's venv) ---------------------------------------------------------------
def prepare(scratch: Path) -> dict[str, Any]:
    """Train the pipeline, register it in a Slipway home, save it as an MLflow model."""
    import pickle

    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from slipway.models.logging import log_model
    from slipway.workspace import open_workspace

    data_path = _peer.REPO.parent / "shared" / "data" / "ai4i2020" / "ai4i2020.csv"
    frame = pd.read_csv(data_path)
    features, label = frame[FEATURES], frame["Machine failure"]
    encode = ColumnTransformer([("type", OneHotEncoder(handle_unknown="ignore"), ["Type"])], remainder="passthrough")
    pipeline = Pipeline([("encode", encode), ("model", RandomForestClassifier(50, max_depth=10, random_state=0,
                                                                              n_jobs=1))]).fit(features, label)
    home = scratch / "slipway-home"
    ws = open_workspace(_settings(home))
    with ws.tracking.start_run("bench-train"):
        info = log_model(ws, pipeline, input_example=features.head(20), registered_model_name="ai4i")
    # Governance (four-eyes approval, a signed decision for the protected alias) is not what this
    # measures: approve the version and point the alias at it directly in the store.
    from slipway.store.database import Database

    with Database(ws.settings.resolved_store_uri).write() as conn:
        conn.exec_driver_sql("UPDATE model_versions SET state = 'approved'")
        conn.exec_driver_sql(
            "INSERT INTO model_aliases (model_id, alias, version, set_by, updated_ms) "
            f"SELECT id, 'champion', {int(info.version)}, 'bench', 0 FROM registered_models WHERE name = 'ai4i'")
    pickle_path = scratch / "pipeline.pkl"
    pickle_path.write_bytes(pickle.dumps(pipeline))
    example = {"columns": FEATURES, "data": features.head(5).values.tolist()}
    _peer.run_json(MLFLOW.python, [__file__, "--worker", "mlflow_save", "--spec", json.dumps(
        {"pickle": str(pickle_path), "path": str(scratch / "mlflow-model"), "example": example})])
    return {"pipeline": pipeline, "features": features, "home": home}


def _settings(home: Path) -> Any:
    from slipway.core.settings import load_settings

    return load_settings(home=home, server_url="", token="")


def body_for(features: Any, rows: int, offset: int = 0) -> bytes:
    chunk = features.iloc[offset:offset + rows]
    return json.dumps({"dataframe_split": {"columns": FEATURES, "data": chunk.values.tolist()}}).encode()


def post(url: str, body: bytes) -> Any:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wrk(url: str, body: bytes, connections: int, seconds: float, scratch: Path) -> dict[str, float]:
    """Requests/s, p50 and p99 (ms) and the count of non-2xx answers from one wrk run."""
    script = scratch / f"post-{len(body)}.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = {json.dumps(body.decode())}\n")
    threads = min(2, connections)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": rps, "p50_ms": _latency(out, "50%"), "p99_ms": _latency(out, "99%"),
            "non_2xx": float(bad.group(1)) if bad else 0.0,
            "socket_errors": float(sum(int(g) for g in errors.groups())) if errors else 0.0}


FLOOR_APP = """
import gc, sys
import uvicorn
from slipway.serving.http import http_protocol

BODY = b'{"predictions":[0]}'
HEAD = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": HEAD})
    await send({"type": "http.response.body", "body": BODY})


gc.freeze()
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False, lifespan="off",
            http=http_protocol())
"""


def _latency(text: str, label: str) -> float:
    match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)\b", text)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000.0 if unit == "us" else value * 1000.0 if unit == "s" else value


def p50_ms(call: Any, calls: int = 2000) -> float:
    for _ in range(50):
        call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000.0)
    return float(statistics.median(samples))


def in_process_limits(home: Path, pipeline: Any, features: Any, body: bytes) -> dict[str, Any]:
    """p50 (ms) of the server's own model call on the decoded ``body`` (loaded from the registry the
    way the server loads it) and of ``pipeline.predict`` on the same row."""
    import orjson

    from slipway.serving.model import served_from_registry
    from slipway.serving.protocol_rows import decode_invocations
    from slipway.workspace import open_workspace

    served = served_from_registry(open_workspace(_settings(home)), "ai4i@champion")
    frame = decode_invocations(orjson.loads(body), served.signature)
    row = features.iloc[[200]]
    assert served.predict(frame).tolist() == pipeline.predict(row).tolist()
    return {"served_predict_p50_ms": p50_ms(lambda: served.predict(frame)),
            "sklearn_predict_p50_ms": p50_ms(lambda: pipeline.predict(row), 500),
            "fast_path": served.fast is not None}


def same_predictions(urls: dict[str, str], pipeline: Any, features: Any, bodies: list[tuple[int, int]]) -> bool:
    """Every server returns exactly ``pipeline.predict`` for each case body and for every row."""
    chunks = bodies + [(500, start) for start in range(0, len(features), 500)]
    for rows, offset in chunks:
        expected = pipeline.predict(features.iloc[offset:offset + rows]).tolist()
        body = body_for(features, rows, offset)
        for name, url in urls.items():
            got = post(url, body)["predictions"]
            if got != expected:
                _peer.log(f"{name} answered differently for rows {offset}..{offset + rows}")
                return False
    return True


def main() -> None:
    args = _peer.argument_parser(__doc__ or "").parse_args()
    if args.worker:
        _peer.worker_main({"mlflow_save": mlflow_save}, args.worker, args.spec)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk (apt-get install wrk)")
    seconds = 2.0 if args.quick else 30.0
    rounds = args.rounds or (2 if args.quick else 3)
    MLFLOW.ensure()
    scratch = _peer.BENCH_DIR / "serving"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    _peer.log("training and registering the AI4I pipeline; saving it for MLflow")
    prepared = prepare(scratch)
    pipeline, features = prepared["pipeline"], prepared["features"]
    ports = {"slipway": _peer_free_port(), "mlflow": _peer_free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    # `mlflow models serve` execs `uvicorn` by name, so its venv's bin goes first on PATH.
    mlflow_env = {**env, "PATH": f"{MLFLOW.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    slipway_env = {**env, "SLIPWAY_HOME": str(prepared["home"])}
    slipway_cmd = [str(_peer.SLIPWAY_PYTHON), "-m", "slipway.cli.main", "serve", "ai4i@champion", "--port",
                   str(ports["slipway"]), "--workers", str(WORKERS)]
    mlflow_cmd = [str(MLFLOW.venv / "bin" / "mlflow"), "models", "serve", "-m", str(scratch / "mlflow-model"),
                  "--env-manager", "local", "-h", "127.0.0.1", "-p", str(ports["mlflow"]), "--workers", str(WORKERS)]
    urls = {name: f"http://127.0.0.1:{port}/invocations" for name, port in ports.items()}
    floor_port = _peer_free_port()
    floor_url = f"http://127.0.0.1:{floor_port}/invocations"
    (scratch / "floor_app.py").write_text(FLOOR_APP)
    floor_cmd = [str(_peer.SLIPWAY_PYTHON), str(scratch / "floor_app.py"), str(floor_port)]
    with _peer.Background(slipway_cmd, env=slipway_env, cwd=scratch) as ours, \
            _peer.Background(mlflow_cmd, env=mlflow_env, cwd=scratch) as theirs, \
            _peer.Background(floor_cmd, env=env, cwd=scratch) as floor:
        ours.wait_http(f"http://127.0.0.1:{ports['slipway']}/readyz", 180)
        theirs.wait_http(f"http://127.0.0.1:{ports['mlflow']}/ping", 180)
        floor.wait_http(floor_url, 60)
        same = same_predictions(urls, pipeline, features, [(1, 200), (32, 200)])
        _peer.log(f"both servers return the in-process predictions (case bodies, all rows): {same}")
        limits = in_process_limits(prepared["home"], pipeline, features, body_for(features, 1, 200))
        _peer.log(f"in-process limits: {limits}")
        results: dict[str, dict[str, list[dict[str, float]]]] = {}
        for rows, conc in ((1, 1), (1, 32), (32, 1), (32, 32)):
            case = f"rows{rows}_conc{conc}"
            body = body_for(features, rows, 200)
            sides = {
                "slipway": lambda _n, b=body, c=conc: wrk(urls["slipway"], b, c, seconds, scratch),
                "mlflow": lambda _n, b=body, c=conc: wrk(urls["mlflow"], b, c, seconds, scratch),
            }
            if case == "rows1_conc1":  # the loopback floor, in the same rounds (see the module doc)
                sides["floor"] = lambda _n, b=body: wrk(floor_url, b, 1, seconds, scratch)
            results[case] = _peer.alternate(rounds, sides)
    # Same work: identical predictions, and every Slipway answer a 2xx. The peer's own failures
    # (timeouts under saturation) are its result, reported per case, not a broken comparison.
    clean = all(r["non_2xx"] == 0 and r["socket_errors"] == 0 for case in results.values()
                for r in case["slipway"])
    checks = "ok" if same and clean else "mismatch"
    memory = {"slipway_peak_rss_mb": round(ours.peak_rss_mb, 1), "peer_peak_rss_mb": round(theirs.peak_rss_mb, 1)}
    for case, sides in results.items():
        ours_rps = _peer.median([r["rps"] for r in sides["slipway"]])
        theirs_rps = _peer.median([r["rps"] for r in sides["mlflow"]])
        p99 = {name: _peer.median([r["p99_ms"] for r in sides[name]]) for name in ("slipway", "mlflow")}
        _peer.emit(WORKLOAD, case, ours_rps, theirs_rps, "requests/s", ours_rps / theirs_rps, MLFLOW.version, checks,
                   slipway_p99_ms=p99["slipway"], peer_p99_ms=p99["mlflow"],
                   p99_equal_or_better=p99["slipway"] <= p99["mlflow"], workers=WORKERS, seconds=seconds,
                   peer_failed_requests=sum(r["non_2xx"] + r["socket_errors"] for r in sides["mlflow"]),
                   rounds=rounds, **memory)
    server_p50 = _peer.median([r["p50_ms"] for r in results["rows1_conc1"]["slipway"]])
    limit_ms = limits["served_predict_p50_ms"]
    overhead = max(server_p50 - limit_ms, 1e-6)
    floor_p50 = _peer.median([r["p50_ms"] for r in results["rows1_conc1"]["floor"]])
    _peer.emit(WORKLOAD, "overhead_p50_ms", overhead, limit_ms, "ms", 0.2 / overhead, "in-process predict", checks,
               slipway_p50_ms=server_p50, in_process_predict_p50_ms=limit_ms, floor_p50_ms=floor_p50,
               overhead_over_floor_ms=round(server_p50 - floor_p50 - limit_ms, 4), load_average=os.getloadavg()[0],
               sklearn_predict_p50_ms=limits["sklearn_predict_p50_ms"], fast_path=limits["fast_path"],
               peer_p50_ms=_peer.median([r["p50_ms"] for r in results["rows1_conc1"]["mlflow"]]))


def _peer_free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    if "--worker" not in sys.argv:
        tempfile.tempdir = None
    main()
