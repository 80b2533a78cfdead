"""The recommendation example as a new user runs it: a real subprocess in a temporary home, then
what they would check: the models, the champion, the canary's decision in the deployment history,
exactly one triggered run per new ratings version, an intact ledger; a second run that reuses
everything and ends in the same state; and, with ``--worse-canary``, a canary rolled back on its
click-through rate while the real Prometheus the example ran fires the CTR-drop alert (read back
from the Prometheus data the example left). Marked slow: each trains ALS twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from slipway.core.settings import load_settings
from slipway.workspace import open_workspace

pytest.importorskip("implicit")
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "recommendation"
PROMETHEUS = shutil.which("prometheus")
needs_prometheus = pytest.mark.skipif(PROMETHEUS is None, reason="Debian's prometheus is not installed "
                                      "(scripts/services.sh installs it)")


def _state(ws: Any) -> dict[str, Any]:
    """What the story leaves behind, beside the inference server's payload log."""
    deployment = ws.serving.get("recs")
    versions = ws.registry.list_versions("movie-recs")
    return {
        "data": [(v.ref, v.rows) for v in ws.data.versions("ratings")],
        "models": [(v.ref, v.run_id, ws.governance.status(v.ref).state) for v in versions],
        "champion": ws.registry.resolve("movie-recs@champion").ref,
        "deployment": (deployment.status, deployment.revision, [(v.name, v.role, v.version, v.weight)
                                                               for v in deployment.variants]),
        "history": [(h.revision, h.action) for h in ws.serving.history("recs", 1000)],
        "firings": [(f.event, f.run_id) for t in ws.pipelines.list_triggers() for f in ws.pipelines.list_firings(t.id)],
        "pipeline_runs": sorted(r.id for r in ws.pipelines.list_runs(limit=1000)),
        "events": [e.action for e in ws.audit.log(limit=100_000) if e.action != "deployment.payload_segment"],
    }


def _open(home: Path) -> Any:
    return open_workspace(load_settings(home=home, user="", config_path=str(EXAMPLE / "slipway.toml"), server_url="",
                                        store_uri="", artifacts_uri="", token=""))


def _run(home: Path, *extra: str, limit: float = 280) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    try:
        # Under pytest's own timeout, so a stuck story fails with what it printed so far.
        result = subprocess.run([sys.executable, str(EXAMPLE / "run.py"), "--home", str(home), *extra], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired as stuck:
        pytest.fail(f"the example did not finish: {stuck.stdout!r:.3000} {stuck.stderr!r:.3000}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.mark.slow
def test_recommendation_example_runs_and_reruns_to_the_same_state(tmp_path: Path) -> None:
    home = tmp_path / "recs"
    first = _run(home)
    assert "alice approving her own request: refused" in first
    assert "as the model computes in-process" in first
    assert "click-through per variant" in first
    ws = _open(home)
    try:
        before = _state(ws)
    finally:
        ws.close()
    second = _run(home)
    assert "ratings@1: 94,418 ratings (already versioned)" in second
    assert "ratings@2: 94,734 ratings (already versioned)" in second
    assert second.count("already went through every step (reused)") == 2
    ws = _open(home)
    try:
        # The same state: no version, run, approval, deployment change or event beside the 21
        # answers the second run checks again (which only the payload log records).
        assert _state(ws) == before
        assert sorted(v.version for v in ws.data.versions("ratings")) == [1, 2]
        versions = {v.version: v for v in ws.registry.list_versions("movie-recs")}
        assert sorted(versions) == [1, 2]  # nothing new registered by the second run
        champion = ws.registry.resolve("movie-recs@champion")
        deployment = ws.serving.get("recs")
        assert deployment.status in ("promoted", "rolled_back")
        expected = "movie-recs/2" if deployment.status == "promoted" else "movie-recs/1"
        assert champion.ref == expected
        assert f"'champion': '{expected}'" in first and f"'champion': '{expected}'" in second
        history = [h.action for h in ws.serving.history("recs", 1000)]
        assert ("promote" in history) != ("rollback" in history)
        trigger = next(t for t in ws.pipelines.list_triggers() if t.name == "weekly-recs")
        assert [f.event for f in ws.pipelines.list_firings(trigger.id, 100)] == ["ratings@2"]
        assert ws.audit.verify().ok
    finally:
        ws.close()


def _prometheus_on(data: Path, port_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Prometheus of the test's own over the TSDB the example left (no scraping, no rules)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (port_dir / "empty.yml").write_text("global: {scrape_interval: 1h}\n")
    process = subprocess.Popen([str(PROMETHEUS), f"--config.file={port_dir / 'empty.yml'}",
                                f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


def _query(client: httpx.Client, url: str, expr: str, timeout: float = 180.0) -> list[dict[str, Any]]:
    """``expr``'s answer once Prometheus is up and has replayed its write-ahead log ([] if never)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = client.get(url + "/api/v1/query", params={"query": expr}).json()["data"]["result"]
            if result:
                return list(result)
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(1.0)
    return []


@pytest.mark.slow
@needs_prometheus
# The example's own waits (canary, series, alert) end before this, so a failure is its message.
@pytest.mark.timeout(600)
def test_a_worse_canary_is_rolled_back_on_click_through_and_prometheus_fires_the_ctr_alert(tmp_path: Path) -> None:
    home, picture = tmp_path / "recs", tmp_path / "dashboard.png"
    # The shipped alert waits 1 minute in pending; 5 s here (the expression stays the shipped one).
    out = _run(home, "--worse-canary", "--screenshot", str(picture), "--alert-for", "5s", "--canary-timeout", "150",
               "--prometheus-timeout", "90", "--alert-timeout", "150", limit=540)
    assert "the controller's rollback: canary click-through rate 0.00% is below 80% of the stable's" in out
    assert "alert SlipwayCanaryCtrDrop firing" in out
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = json.loads(out.split("dashboard panels with data: ", 1)[1].splitlines()[0])
    assert drawn["Click-through rate per variant"] == 2 and drawn["Canary weight (% of traffic)"] >= 1
    # Every panel of the shipped dashboard drew data, "Rows per model batch" included (the
    # example asks for named outputs, which the server computes outside its micro-batcher).
    dashboard = json.loads((EXAMPLE / "monitoring" / "grafana-dashboard.json").read_text())
    assert set(drawn) == {panel["title"] for panel in dashboard["panels"]}
    assert [title for title, series in drawn.items() if not series] == []
    ws = _open(home)
    try:
        rollback = ws.serving.history("recs")[0]
        assert rollback.action == "rollback" and "click-through rate" in rollback.details["reason"]
        assert rollback.details["numbers"]["ctr"]["canary"] == 0.0
        assert ws.audit.log(subject="deployment:recs", action="deployment.rollback")[0].details["numbers"]["ctr"]
        assert ws.registry.resolve("movie-recs@champion").ref == "movie-recs/1"
    finally:
        ws.close()
    # What the example's Prometheus recorded, read back from its data: the alert fired, the canary's
    # click-through was 0 while the stable's was not, and the request, latency and weight series.
    process, url = _prometheus_on(home / "prometheus" / "data", tmp_path)
    try:
        with httpx.Client(timeout=30) as client:
            firing = _query(client, url, 'max_over_time(ALERTS{alertname="SlipwayCanaryCtrDrop",'
                                         'alertstate="firing"}[1d])')
            assert firing and firing[0]["metric"]["deployment"] == "recs"
            ctr = {r["metric"]["variant"]: float(r["value"][1])
                   for r in _query(client, url, "max_over_time(slipway:ctr:rate5m[1d])")}
            assert ctr["canary"] == 0.0 and ctr["stable"] > 0.5
            for series in ("slipway_inference_requests_total", "slipway_inference_request_duration_seconds_bucket",
                           "slipway_deployment_variant_weight"):
                assert _query(client, url, f"count(last_over_time({series}[1d]))"), series
    finally:
        process.terminate()
        process.wait(timeout=60)
