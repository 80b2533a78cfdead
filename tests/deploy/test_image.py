"""`slipway build --deployment` and `slipway deploy render` are one path: the manifests name the
image the build makes, its ENTRYPOINT and the manifests' args agree, its requirements carry the
store drivers, and the rendered command really serves stable and canary from an environment built
from nothing but the rendered requirements."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from slipway.serving.packaging import build_deployment_context
from slipway.workspace import open_workspace, set_default
from tests.serving.helpers import ai4i, approve, champion, register, train_pipeline
from tests.support import free_port, make_settings

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"


@pytest.fixture
def canary_home(home: Path) -> Path:
    ws = open_workspace(make_settings(home))
    set_default(ws)
    features, label = ai4i(1500)
    champion(home, ws, features, label)
    version = register(ws, train_pipeline(features.iloc[:1000], label.iloc[:1000]), "ai4i", features.head(20))
    approve(home, ws, f"ai4i/{version}")
    ws.serving.apply({"name": "maint", "variants": [
        {"name": "stable", "model": "ai4i@champion", "role": "stable", "weight": 90},
        {"name": "canary", "model": f"ai4i/{version}", "role": "canary", "weight": 10}],
        "slo": {"max_error_rate": 0.05, "max_latency_ms": 1000},
        "canary": {"steps": [10, 100], "min_requests": 10**6, "min_seconds": 3600, "auto": False}})
    ws.close()
    set_default(None)
    return home


def _dockerfile_json(dockerfile: str, instruction: str) -> list[str]:
    line = next(line for line in dockerfile.splitlines() if line.startswith(instruction + " "))
    return list(json.loads(line.removeprefix(instruction + " ")))


def test_render_names_the_built_image_and_its_command(canary_home: Path, tmp_path: Path) -> None:
    ws = open_workspace(make_settings(canary_home))
    try:
        built = build_deployment_context(ws, "maint", tmp_path / "ctx")
        manifests = ws.serving.render("maint", "kubernetes")
        kserve = ws.serving.render("maint", "kserve")
    finally:
        ws.close()
    dockerfile = (tmp_path / "ctx" / "Dockerfile").read_text()
    container = manifests[0]["spec"]["template"]["spec"]["containers"][0]
    predictor = kserve[0]["spec"]["predictor"]
    assert container["image"] == built["image"] == predictor["containers"][0]["image"]
    assert re.fullmatch(r"slipway-serve:[\w.]+-[0-9a-f]{12}", built["image"])
    assert (tmp_path / "ctx" / "image.txt").read_text().strip() == built["image"]
    # args replace only the image's CMD; the ENTRYPOINT is the slipway command.
    assert _dockerfile_json(dockerfile, "ENTRYPOINT") == ["python", "-m", "slipway.cli.main"]
    assert _dockerfile_json(dockerfile, "CMD") == container["args"] == predictor["containers"][0]["args"]
    assert container["args"][:3] == ["serve", "--deployment", "maint"]
    # KServe's canaryTrafficPercent would serve a freshly applied canary at 100%; the router splits instead.
    assert "canaryTrafficPercent" not in predictor
    requirements = (tmp_path / "ctx" / "requirements.txt").read_text().split()
    assert any(r.startswith("psycopg[binary]==") for r in requirements)
    assert any(r.startswith("s3fs==") for r in requirements)
    assert any(r.startswith("scikit-learn==") for r in requirements)


@pytest.mark.slow
def test_the_rendered_command_serves_from_the_rendered_requirements(canary_home: Path, tmp_path: Path) -> None:
    ws = open_workspace(make_settings(canary_home))
    try:
        build_deployment_context(ws, "maint", tmp_path / "ctx")
        container = ws.serving.render("maint", "kubernetes")[0]["spec"]["template"]["spec"]["containers"][0]
    finally:
        ws.close()
    env_dir = tmp_path / "image-env"
    subprocess.run([str(UV), "venv", "-q", "--python", sys.executable, str(env_dir)], check=True, timeout=300)
    subprocess.run([str(UV), "pip", "install", "-q", "--python", str(env_dir / "bin" / "python"), "-r",
                    str(tmp_path / "ctx" / "requirements.txt")], check=True, timeout=600)
    entrypoint = _dockerfile_json((tmp_path / "ctx" / "Dockerfile").read_text(), "ENTRYPOINT")
    port = free_port()
    args = [str(port) if previous == "--port" else arg
            for previous, arg in zip(["", *container["args"]], container["args"], strict=False)]
    command = [str(env_dir / "bin" / entrypoint[0]), *entrypoint[1:], *args]
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(tmp_path / "ctx"), "SLIPWAY_HOME": str(canary_home)}
    server = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            time.sleep(0.2)
        features, _ = ai4i(40)
        body = {"dataframe_split": {"columns": list(features.columns), "data": features.values.tolist()}}
        variants = set()
        for _ in range(150):  # 10% canary: P(no canary answer) = 0.9**150, about 1e-7
            answer = httpx.post(f"{url}/invocations", json=body, timeout=30)
            assert answer.status_code == 200, answer.text
            variants.add(answer.headers.get("x-slipway-variant", ""))
        assert variants == {"stable", "canary"}, variants
    finally:
        server.terminate()
        server.wait(timeout=30)
