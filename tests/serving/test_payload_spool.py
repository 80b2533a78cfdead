"""The payload log loses no answered prediction (issue 13.6): a SIGKILL of the real server is
followed by a replay of its write-ahead spool on restart, and a segment write that keeps failing
keeps its rows (retried, then replayed) instead of dropping them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from prometheus_client import generate_latest

from slipway.serving.frame import Frame
from slipway.serving.metrics import ServingMetrics
from slipway.serving.payload import PayloadEntry, PayloadLogger
from slipway.serving.spool import Spool
from tests.serving.helpers import FEATURES
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]


def _serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env |= {"SLIPWAY_HOME": str(home), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "slipway.cli.main", "serve", "ai4i@champion", "--port",
                               str(port)], env=env, cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise RuntimeError(server.stderr.read().decode() if server.stderr else "server exited")
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not become ready")


def _logged_ids(ws: Any) -> list[str]:
    return list(ws.serving.payload_log("ai4i").column("request_id").to_pylist()) if ws.serving.payload_segments(
        "ai4i") else []


def test_sigkill_loses_no_answered_prediction_once_restarted(champion_ws, ai4i_data) -> None:
    ws, _ = champion_ws
    features, _ = ai4i_data
    home = Path(ws.settings.home)
    # Nothing reaches a segment on its own before the kill: only the spool can save these rows.
    (home / "slipway.toml").write_text("[serving]\nflush_seconds = 3600\nsegment_rows = 1000000\n")
    port = free_port()
    server = _serve(home, port)
    answered: list[str] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for i in range(60):
                answer = client.post("/invocations", json={"dataframe_split": {
                    "columns": FEATURES, "data": features.iloc[i:i + 2].to_numpy().tolist()}})
                assert answer.status_code == 200
                answered.append(answer.headers["x-request-id"])
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    assert _logged_ids(ws) == []  # killed before its writer ran: without the spool, all 60 are gone

    server = _serve(home, port)
    try:
        for _ in range(300):  # the replay runs on the writer thread of the new server
            if set(answered) <= set(_logged_ids(ws)):
                break
            time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    logged = _logged_ids(ws)
    assert set(answered) <= set(logged)
    assert len(logged) == 2 * len(answered)  # two rows per request, each once
    assert list((home / "serving-spool").glob("*.spool")) == []  # replayed files are deleted


class _FlakySink:
    """Records payload segments through the real deployment backend after ``failures`` refusals."""

    def __init__(self, ws: Any, failures: int) -> None:
        self.ws = ws
        self.failures = failures

    def __call__(self, segment: dict[str, Any]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("the metadata store is away")
        self.ws.serving._backend.record_payload_segment(segment)


def _entry(i: int) -> PayloadEntry:
    frame = Frame({"x": np.array([float(i), np.nan]), "kind": np.array(["a", "b"], dtype=object)}, 2)
    return PayloadEntry(f"req-{i}", "dep", "default", "m", "1", frame, np.array([i, i + 1]), 1.5, 200)


def test_failed_segment_writes_keep_their_rows_and_are_counted(home, tmp_path: Path) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(home))
    metrics = ServingMetrics()
    spool_dir = tmp_path / "spool"
    # More failures than one flush's five attempts: the old writer dropped the rows here.
    first = PayloadLogger(ws.blobs, _FlakySink(ws, failures=8), segment_rows=10**6, flush_seconds=3600,
                          spool=Spool(spool_dir, "w1"), metrics=metrics, retry_seconds=0.05)
    for i in range(25):
        first.log(_entry(i))
    first.close()  # five attempts at shutdown all fail: the rows stay in the spool
    assert ws.serving.payload_segments("dep") == []
    scraped = generate_latest(metrics.registry).decode()
    assert "slipway_payload_segment_write_failures_total 5.0" in scraped
    assert "slipway_payload_log_dropped_total 0.0" in scraped
    assert len(list(spool_dir.glob("*.spool"))) == 1

    second = PayloadLogger(ws.blobs, _FlakySink(ws, failures=3), segment_rows=10**6, flush_seconds=3600,
                           spool=Spool(spool_dir, "w2"), metrics=ServingMetrics(), retry_seconds=0.05)
    for _ in range(200):  # retried every retry_seconds until the store answers
        if ws.serving.payload_segments("dep"):
            break
        time.sleep(0.05)
    second.close()
    log = ws.serving.payload_log("dep").to_pandas().sort_values(["request_id", "row"])
    assert sorted(set(log["request_id"])) == sorted(f"req-{i}" for i in range(25))
    assert len(log) == 50 and log["input.kind"].tolist()[:2] == ["a", "b"]
    assert np.isnan(log["input.x"].to_numpy()[1::2]).all()  # a NaN survives the spool as NaN
    assert list(spool_dir.glob("*.spool")) == []


def test_a_cut_off_spool_line_is_counted_as_dropped(home, tmp_path: Path) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws = open_workspace(make_settings(home))
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    from slipway.serving.spool import encode_entry

    (spool_dir / "dead-1-1.spool").write_bytes(encode_entry(_entry(1)) + encode_entry(_entry(2))[:30])
    metrics = ServingMetrics()
    logger = PayloadLogger(ws.blobs, ws.serving._backend.record_payload_segment, segment_rows=10**6,
                           flush_seconds=3600, spool=Spool(spool_dir, "w"), metrics=metrics, retry_seconds=0.05)
    logger.close()
    assert ws.serving.payload_log("dep").column("request_id").to_pylist() == ["req-1", "req-1"]
    assert "slipway_payload_log_dropped_total 1.0" in generate_latest(metrics.registry).decode()
    assert orjson.loads(encode_entry(_entry(3)))["i"] == "req-3"
