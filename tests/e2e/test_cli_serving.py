"""The serving CLI as a new user drives it: deploy apply/status/history/render, build, and a
multi-worker `slipway serve` that survives a killed worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import kubernetes_validate
import orjson
import pytest

from slipway.workspace import open_workspace, set_default
from tests.serving.helpers import FEATURES, ai4i, champion
from tests.support import free_port, make_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_home(home: Path) -> Path:
    ws = open_workspace(make_settings(home))
    set_default(ws)
    features, label = ai4i(1500)
    champion(home, ws, features, label)
    ws.close()
    set_default(None)
    return home


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    return {**env, "SLIPWAY_HOME": str(home), "PYTHONPATH": str(ROOT)}


def slipway(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``slipway`` executable in a child process (for exit codes and messages)."""
    return subprocess.run([sys.executable, "-m", "slipway.cli.main", *args], env=env_for(home), cwd=home,
                          capture_output=True, text=True, timeout=120)


def run_cli(home: Path, *args: str) -> str:
    """A successful command, run in-process through Typer on the same workspace; its stdout."""
    from typer.testing import CliRunner

    from slipway.cli.main import app

    ws = open_workspace(make_settings(home))
    set_default(ws)
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        ws.close()
        set_default(None)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_deploy_commands_render_and_build(cli_home: Path, tmp_path: Path) -> None:
    spec = tmp_path / "deployment.yaml"
    spec.write_text("name: maint-prod\nvariants:\n  - {name: stable, model: ai4i@champion, weight: 100}\n"
                    "slo: {max_error_rate: 0.01, max_latency_ms: 250}\n")
    applied = orjson.loads(run_cli(cli_home, "deploy", "apply", str(spec), "--json"))
    assert applied["revision"] == 1 and applied["variants"][0]["version"] == 1
    status = orjson.loads(run_cli(cli_home, "deploy", "status", "maint-prod", "--json"))
    assert status["deployment"]["status"] == "stable" and "stable" in status["variants"]
    assert "maint-prod" in run_cli(cli_home, "deploy", "status", "maint-prod")
    history = orjson.loads(run_cli(cli_home, "deploy", "history", "maint-prod", "--json"))
    assert [h["action"] for h in history] == ["apply"]
    manifests = orjson.loads(run_cli(cli_home, "deploy", "render", "maint-prod", "--json"))
    assert [m["kind"] for m in manifests] == ["Deployment", "Service"]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, "1.30", strict=True)
    kserve = orjson.loads(run_cli(cli_home, "deploy", "render", "maint-prod", "--target", "kserve", "--json"))
    assert kserve[0]["kind"] == "InferenceService" and kserve[0]["apiVersion"] == "serving.kserve.io/v1beta1"
    # The CRD's predictor is a pod spec: its containers must be valid Kubernetes containers.
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "check"},
           "spec": {"containers": kserve[0]["spec"]["predictor"]["containers"]}}
    kubernetes_validate.validate(pod, "1.30", strict=True)
    yaml_out = tmp_path / "k8s.yaml"
    run_cli(cli_home, "deploy", "render", "maint-prod", "--output", str(yaml_out))
    assert "kind: Deployment" in yaml_out.read_text()

    out = tmp_path / "image"
    built = orjson.loads(run_cli(cli_home, "build", "ai4i@champion", str(out), "--json"))
    assert built["model"] == "ai4i/1"
    dockerfile = (out / "Dockerfile").read_text()
    assert dockerfile.startswith("# Rendered by `slipway build ai4i@champion`") and "EXPOSE 8080" in dockerfile
    requirements = (out / "requirements.txt").read_text().split()
    assert all("==" in line for line in requirements) and any(r.startswith("scikit-learn==") for r in requirements)
    assert (out / "model" / "slipway-model.json").is_file() and (out / "slipway" / "serving" / "app.py").is_file()


def test_cli_mistakes_exit_2_with_one_line(cli_home: Path, tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("name: broken\nvariants: []\n")
    refused = slipway(cli_home, "deploy", "apply", str(spec))
    assert refused.returncode == 2 and "non-empty 'variants'" in refused.stderr and "Traceback" not in refused.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    again = slipway(cli_home, "build", "ai4i@champion", str(tmp_path / "full"))
    assert again.returncode == 2 and "is not empty" in again.stderr
    assert (tmp_path / "full" / "x").read_text() == "keep me"


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return found


def _serving_workers(pid: int) -> list[int]:
    # Spawned workers are children of the supervisor (multiprocessing's resource tracker is one too).
    return [c for c in _children(pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]


def test_killed_worker_loses_only_its_requests_and_is_replaced(cli_home: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "slipway.cli.main", "serve", "ai4i@champion", "--workers", "2",
                               "--port", str(port)], env=env_for(cli_home), cwd=cli_home,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200 and len(_serving_workers(server.pid)) == 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError(f"server did not start: {server.stderr.read1().decode() if server.stderr else ''}")
        features = ai4i(200)[0]
        body = {"dataframe_split": {"columns": FEATURES, "data": features.head(4).values.tolist()}}
        results: list[int] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(timeout=10) as client:
                while not stop.is_set():
                    try:
                        results.append(client.post(url + "/invocations", json=body).status_code)
                    except httpx.HTTPError:
                        results.append(-1)  # a connection the killed worker held

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        workers = _serving_workers(server.pid)
        os.kill(workers[0], signal.SIGKILL)
        time.sleep(4)
        replacement = _serving_workers(server.pid)
        before_stop = len(results)
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join(15)
        assert len(replacement) == 2 and workers[0] not in replacement
        failures = [r for r in results if r != 200]
        assert len(failures) <= 4, failures  # at most one in-flight request per load thread
        assert all(r == 200 for r in results[before_stop:])  # recovered
        assert len(results) > 50
        # /metrics adds up every worker, whichever one a scrape reaches: a killed worker's counts
        # up to its last snapshot (at most a second before the kill) stay in.
        time.sleep(1.5)
        served = sum(r == 200 for r in results)
        for _ in range(6):
            with httpx.Client() as fresh:  # a new connection: any worker may take it
                text = fresh.get(url + "/metrics").text
            counted = sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
                          if line.startswith("slipway_inference_requests_total{") and 'code="200"' in line)
            assert 0.5 * served < counted <= served, (counted, served)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(40)
    assert server.returncode == 0 or server.returncode == -signal.SIGTERM
