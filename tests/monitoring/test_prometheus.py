"""A real Prometheus scrapes a real ``slipway server``: the monitoring gauges of the latest runs
arrive labelled by monitor, deployment, model and version, and follow the alerts' states."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from slipway.monitoring.gauges import METRIC_NAMES
from slipway.monitoring.payload import payload_features
from slipway.workspace import Workspace
from tests.monitoring.payloads import TORQUE, record_segment
from tests.monitoring.test_dashboard import dashboard, queries

SCRAPE_TOKEN = "scrape-secret-1"


def _tools() -> tuple[str, str]:
    found = shutil.which("prometheus"), shutil.which("promtool")
    if None in found:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed: scripts/services.sh installs it (Debian package prometheus)")
        pytest.skip("prometheus is not installed (run scripts/services.sh as root)")
    return found  # type: ignore[return-value]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _process(command: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _eventually(probe: Callable[[], Any], what: str, timeout: float = 180.0) -> Any:
    """Poll ``probe`` until it returns something truthy (generous: the machine may be busy)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            value = probe()
            if value:
                return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _monitored(ws: Workspace, tmp_path: Path) -> None:
    record_segment(ws, 3000, 1, "1")  # the training window
    train = tmp_path / "train.parquet"
    pq.write_table(payload_features(ws.serving.payload_log("failures")).select([TORQUE, "Type"]), train)
    ws.data.add("train", train)
    for seed, version, shift in ((2, "1", 0.0), (3, "1", 0.0), (4, "2", 40.0), (5, "2", 40.0)):
        record_segment(ws, 500, seed, version, shift)
    ws.monitoring.apply("name: failures-inputs\nwatch: deployment:failures\nreference: train@1\n"
                        "window: {rows: 800}\nchecks:\n"
                        f"  - {{name: drift, type: drift, max_share: 0.0, columns: ['{TORQUE}', Type]}}\n"
                        "  - {name: quality, type: quality}\nactions: [alert]\n")
    run = ws.monitoring.run("failures-inputs")
    assert run.status == "alert" and run.result["subject"] == {"deployment": "failures", "model": "ai4i", "version": "2"}


def test_prometheus_scrapes_the_monitoring_gauges(sqlite_ws: Workspace, home: Path, tmp_path: Path) -> None:
    prometheus, promtool = _tools()
    _monitored(sqlite_ws, tmp_path)
    api_port, prom_port = _port(), _port()
    env = {**os.environ, "SLIPWAY_HOME": str(home), "SLIPWAY_SERVER_URL": "", "SLIPWAY_STORE_URI": "",
           "SLIPWAY_ARTIFACTS_URI": "", "SLIPWAY_METRICS_TOKEN": SCRAPE_TOKEN}
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: slipway
    metrics_path: /metrics
    authorization: {{type: Bearer, credentials: {SCRAPE_TOKEN}}}
    static_configs: [{{targets: ['127.0.0.1:{api_port}']}}]
""")
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    server_cmd = [sys.executable, "-m", "slipway.cli.main", "server", "--port", str(api_port)]
    prom_cmd = [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}"]
    api, prom = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{prom_port}"
    with _process(server_cmd, tmp_path / "server.log", env), _process(prom_cmd, tmp_path / "prometheus.log"):
        _eventually(lambda: httpx.get(f"{api}/healthz").status_code == 200, "slipway server")
        assert httpx.get(f"{api}/metrics").status_code == 401  # the scrape token is required
        scraped = httpx.get(f"{api}/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"}).text
        lint = subprocess.run([promtool, "check", "metrics"], input=scraped, capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        assert {n for n in METRIC_NAMES if f"\n{n}{{" in scraped} >= {
            "slipway_monitor_drift_share", "slipway_monitor_feature_drift_score", "slipway_monitor_open_alerts",
            "slipway_monitor_check_failed", "slipway_monitor_quality_errors"}

        def query(expr: str) -> list[dict[str, Any]]:
            body = httpx.get(f"{prom}/api/v1/query", params={"query": expr}).json()
            assert body["status"] == "success", body
            return body["data"]["result"]  # type: ignore[no-any-return]

        _eventually(lambda: query('up{job="slipway"} == 1'), "Prometheus scraping slipway",
                    timeout=240)
        [share] = _eventually(lambda: query("slipway_monitor_drift_share"), "the drift share")
        labels = share["metric"]
        assert (labels["monitor"], labels["deployment"], labels["model"], labels["version"], labels["check"]) == (
            "failures-inputs", "failures", "ai4i", "2", "drift")
        assert float(share["value"][1]) == 0.5  # torque of two tested columns
        drifted = {r["metric"]["feature"]: float(r["value"][1]) for r in query("slipway_monitor_feature_drifted")}
        assert drifted == {TORQUE: 1.0, "Type": 0.0}
        [score] = query(f'slipway_monitor_feature_drift_score{{feature="{TORQUE}"}}')
        run = sqlite_ws.monitoring.history("failures-inputs")[0]
        assert float(score["value"][1]) == pytest.approx(run.result["checks"][0]["columns"][TORQUE]["score"])
        assert score["metric"]["method"] == "wasserstein"
        [failed] = query('slipway_monitor_check_failed{check="drift"}')
        assert float(failed["value"][1]) == 1.0
        [out_of_range] = query('slipway_monitor_quality_share{finding="out_of_range"}')
        assert out_of_range["metric"]["column"] == TORQUE and float(out_of_range["value"][1]) > 0.2
        [open_alerts] = query('slipway_monitor_open_alerts{state="open"}')
        assert float(open_alerts["value"][1]) >= 1.0
        # A state change in the store shows at the next scrape.
        for alert in sqlite_ws.monitoring.alerts("failures-inputs", "open"):
            sqlite_ws.monitoring.acknowledge(alert.id, "looking")
        _eventually(lambda: query('slipway_monitor_open_alerts{state="open"} == 0'), "the open alerts at 0")
        acknowledged = query('slipway_monitor_open_alerts{state="acknowledged"}')
        assert float(acknowledged[0]["value"][1]) >= 1.0
        # Every query of the Grafana dashboard parses and, except the performance panel (nothing
        # has stored performance yet), finds series.
        for expr in queries(dashboard()):
            found = query(expr)
            assert found or "performance" in expr, expr
