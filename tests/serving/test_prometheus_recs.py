"""The recommendation example's monitoring, for real: `promtool` accepts its rules (and their unit
test: the CTR-drop alert fires when the canary's clicks fall), and a real Prometheus scraping a
real inference server holds data for every query of the shipped Grafana dashboard after traffic
and feedback."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from slipway.workspace import Workspace
from tests.serving.asgi import make_app, on_socket
from tests.serving.recs import recs_fixture  # noqa: F401  (the recs_ws fixture)

MONITORING = Path(__file__).resolve().parents[2] / "examples" / "recommendation" / "monitoring"
PROMTOOL, PROMETHEUS = shutil.which("promtool"), shutil.which("prometheus")
needs_prometheus = pytest.mark.skipif(PROMTOOL is None or PROMETHEUS is None,
                                      reason="Debian's prometheus package is not installed (scripts/services.sh)")


def _queries() -> list[str]:
    """Every PromQL query of every panel of the shipped dashboard (none left out)."""
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert all(panel["targets"] for panel in dashboard["panels"])  # no panel without a query
    return queries


@needs_prometheus
def test_promtool_accepts_the_rules_and_the_ctr_drop_alert_fires_in_its_unit_test() -> None:
    for args in (["check", "rules", "rules.yml"], ["check", "config", "prometheus.yml"],
                 ["test", "rules", "rules_test.yml"]):
        result = subprocess.run([str(PROMTOOL), *args], cwd=MONITORING, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@needs_prometheus
def test_every_dashboard_query_returns_data_from_a_real_prometheus(recs_ws: Workspace, tmp_path: Path) -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(MONITORING / "rules.yml")]
    with on_socket(make_app(recs_ws, model_ref="recs@champion")) as url:
        config["scrape_configs"] = [{"job_name": "slipway-inference",
                                     "static_configs": [{"targets": [url.removeprefix("http://")]}]}]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = _free_port()
        server = subprocess.Popen([str(PROMETHEUS), f"--config.file={tmp_path / 'prometheus.yml'}",
                                   f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            missing = _traffic_until_every_query_answers(url, f"http://127.0.0.1:{port}")
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert missing == [], f"dashboard queries without data: {missing}"


def _traffic_until_every_query_answers(url: str, prometheus: str, timeout: float = 240.0) -> list[str]:
    # What the example's traffic asks for (traffic.v2_body): the named outputs, which the server
    # computes outside its micro-batcher; "Rows per model batch" must still have data.
    body = {"inputs": [{"name": "user_id", "datatype": "INT64", "shape": [1], "data": [1]},
                       {"name": "exclude", "datatype": "BYTES", "shape": [1], "data": [""]}],
            "outputs": [{"name": "item_ids"}, {"name": "scores"}]}
    deadline = time.monotonic() + timeout
    missing = _queries()
    with httpx.Client(timeout=30) as client:
        while missing and time.monotonic() < deadline:
            for user in range(1, 21):
                body["inputs"][0]["data"] = [user]  # type: ignore[index]
                answer = client.post(url + "/v2/models/recs/infer", json=body)
                assert answer.status_code == 200 and answer.json()["outputs"][0]["name"] == "item_ids", answer.text
                client.post(url + "/feedback", json={"request_id": answer.headers["x-request-id"],
                                                     "label": user % 3 == 0})
            try:
                missing = [q for q in missing if client.get(prometheus + "/api/v1/query", params={"query": q})
                           .json()["data"]["result"] == []]
            except (httpx.HTTPError, KeyError, ValueError):
                pass  # Prometheus still starting
            time.sleep(0.5)
    return missing
