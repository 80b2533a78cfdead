"""Prometheus for the example, for real: Debian's ``prometheus`` on loopback, configured from the
shipped ``monitoring/prometheus.yml`` (its targets replaced by the inference server the example
runs, scraped every second) with the shipped ``monitoring/rules.yml``, and asked over its HTTP API
for the series, the alerts and each Grafana panel's answer (``dashboard.py`` draws those)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from slipway import BackendUnavailable

MONITORING = Path(__file__).resolve().parent / "monitoring"
# What the story's end must find in Prometheus: requests, latency, canary weight and (after the
# canary's traffic) click-through per variant.
SERIES = {
    "requests": "slipway_inference_requests_total",
    "latency": "slipway_inference_request_duration_seconds_bucket",
    "canary weight": "slipway_deployment_variant_weight",
    "click-through per variant": "slipway:ctr:rate5m",
}


def dashboard_panels() -> list[tuple[str, str]]:
    """(title, PromQL) of every panel of the shipped Grafana dashboard."""
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Prometheus:
    """A Prometheus process scraping ``target`` (host:port); stop it with :meth:`stop`."""

    def __init__(self, binary: str, folder: Path, target: str, ready_timeout: float = 120.0,
                 alert_for: str = "") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(_rules(folder, alert_for))]
        config["scrape_configs"] = [{"job_name": "slipway-inference", "static_configs": [{"targets": [target]}]}]
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.started = time.time()
        self.log = folder / "prometheus.log"
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [binary, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
                 f"--web.listen-address={self.url.removeprefix('http://')}"],
                stdout=log, stderr=subprocess.STDOUT)
        self._client = httpx.Client(base_url=self.url, timeout=30)
        deadline = time.monotonic() + ready_timeout
        # Ready, then scraping: Prometheus hands its targets to the scraper a few seconds after it
        # starts, and series born before the first scrape (feedback counters during a short canary)
        # would show no increase, so no rate.
        while not self._ready() or not self._scraped():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BackendUnavailable(f"Prometheus did not become ready and scrape {target} at {self.url}; "
                                         f"see {self.log}")
            time.sleep(0.5)

    def _ready(self) -> bool:
        try:
            return self._client.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def _scraped(self) -> bool:
        try:
            return any(r["value"][1] == "1" for r in self.query('up{job="slipway-inference"}'))
        except (httpx.HTTPError, KeyError, ValueError):
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector ``expr`` answers now ([] while it has no data)."""
        answer = self._client.get("/api/v1/query", params={"query": expr})
        answer.raise_for_status()
        return list(answer.json()["data"]["result"])

    def query_range(self, expr: str, start: float, end: float, step: float = 2.0) -> list[dict[str, Any]]:
        answer = self._client.get("/api/v1/query_range", params={"query": expr, "start": start, "end": end,
                                                                  "step": step})
        answer.raise_for_status()
        return list(answer.json()["data"]["result"])

    def wait_for(self, exprs: dict[str, str], timeout: float) -> dict[str, int]:
        """Wait until every expression has data; the number of series each holds (0: none by the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            held = {name: len(self.query(expr)) for name, expr in exprs.items()}
            if all(held.values()) or time.monotonic() > deadline:
                return held
            time.sleep(1.0)

    def alerts(self) -> list[dict[str, Any]]:
        answer = self._client.get("/api/v1/alerts")
        answer.raise_for_status()
        return list(answer.json()["data"]["alerts"])

    def wait_for_alert(self, name: str, timeout: float) -> dict[str, Any] | None:
        """The alert ``name`` once it is firing (its ``for:`` period has passed), or None by the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            firing = [a for a in self.alerts() if a["labels"].get("alertname") == name and a["state"] == "firing"]
            if firing:
                return firing[0]
            time.sleep(2.0)
        return None

    def stop(self) -> None:
        self._client.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=30)


def _rules(folder: Path, alert_for: str) -> Path:
    """The shipped rules, or a copy in ``folder`` whose alerts wait ``alert_for`` (e.g. "10s")
    instead of their shipped ``for:`` period (the tests' shortcut; the expressions are unchanged)."""
    if not alert_for:
        return MONITORING / "rules.yml"
    rules = yaml.safe_load((MONITORING / "rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = alert_for
    copy = folder / "rules.yml"
    copy.write_text(yaml.safe_dump(rules, sort_keys=False))
    return copy


def start(folder: Path, server_url: str, alert_for: str = "") -> Prometheus | None:
    """Prometheus scraping the inference server at ``server_url``, or None when Debian's
    ``prometheus`` is not installed (``scripts/services.sh`` installs it with apt)."""
    binary = shutil.which("prometheus")
    if binary is None:
        return None
    return Prometheus(binary, folder, server_url.removeprefix("http://").rstrip("/"), alert_for=alert_for)
