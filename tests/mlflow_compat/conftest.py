"""The real MLflow client against a real ``slipway server`` on loopback.

MLflow conflicts with Slipway's pins, so it is not in our lock: a session fixture builds
``<repo>/.bench/venv-mlflow-client`` with uv (its cache makes this quick after the first time) and
each test runs MLflow scripts in that interpreter, as a user's training script would run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.core.settings import Settings
from slipway.workspace import Workspace, open_workspace
from tests.support import make_settings, platform_server, postgres_database

MLFLOW_PIN = "mlflow==3.17.2"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def mlflow_python() -> str:
    import fcntl

    venv = REPO / ".bench" / "venv-mlflow-client"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import mlflow, sys; sys.exit(mlflow.__version__ != sys.argv[1])", MLFLOW_PIN.split("==")[1]]
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / ".venv-mlflow-client.lock", "w") as lock:  # both test workers build it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
            return str(python)
        uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
        shutil.rmtree(venv, ignore_errors=True)  # a half-built one from an interrupted run
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        subprocess.run([uv, "pip", "install", "-q", "--python", str(python), MLFLOW_PIN], check=True)
    return str(python)


@dataclasses.dataclass
class MlflowServer:
    url: str
    token: str
    settings: Settings
    python: str
    workdir: Path

    def run(self, script: str, token: str | None = None) -> dict:
        """Run an MLflow client script; it prints one JSON object as its last line, returned here."""
        path = self.workdir / "client_script.py"
        path.write_text(textwrap.dedent(script))
        env = {**os.environ, "MLFLOW_TRACKING_URI": self.url, "MLFLOW_TRACKING_TOKEN": token or self.token,
               "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "GIT_PYTHON_REFRESH": "quiet"}
        done = subprocess.run([self.python, str(path)], cwd=self.workdir, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-4000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def workspace(self, name: str = "admin", token: str | None = None) -> Workspace:
        """Slipway's own Python API over the same server."""
        return open_workspace(make_settings(self.workdir / name, server_url=self.url, token=token or self.token))


@pytest.fixture
def mlflow_server(request: pytest.FixtureRequest, home: Path, mlflow_python: str) -> Iterator[MlflowServer]:
    """The platform server on SQLite, or on a new PostgreSQL database when parametrised
    indirectly with ``"postgres"``."""
    workdir = home / "client"
    workdir.mkdir()
    with contextlib.ExitStack() as stack:
        overrides = {}
        if getattr(request, "param", "sqlite") == "postgres":
            overrides["store_uri"] = stack.enter_context(postgres_database())
        settings = make_settings(home / "server", **overrides)
        url, token = stack.enter_context(platform_server(settings))
        yield MlflowServer(url, token, settings, mlflow_python, workdir)


def logged_bundle_run(server: MlflowServer) -> typing.Any:
    """A Slipway run (through ``server``'s own API) that logged an AI4I scikit-learn bundle, for
    tests that register it with MLflow's client."""
    import slipway
    from slipway.workspace import set_default
    from tests.models.ai4i import ai4i, fitted_pipeline

    set_default(server.workspace())
    try:
        X, _ = ai4i()
        with slipway.start_run("train") as run:
            slipway.log_model(fitted_pipeline(), input_example=X.head(3))
    finally:
        set_default(None)
    assert run.id  # the run ended and is known by its id
    return run
