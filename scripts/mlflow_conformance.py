"""Run MLflow's own tracking-server tests against ``slipway server`` (docs/mlflow.md, "Conformance").

    python scripts/mlflow_conformance.py /path/to/mlflow-checkout            # the default modules
    python scripts/mlflow_conformance.py /path/to/mlflow -- -k search -x     # extra pytest arguments

Nothing is fetched: the first argument is a checkout of MLflow (or any folder holding its
``tests/tracking/test_rest_tracking.py`` and ``tests/tracking/test_model_registry.py``). Those
modules are copied into a scratch folder (``--out``, default a temporary one) with one line
appended that rebinds their server fixtures (``mlflow_client``, ``client``) to a fresh
``slipway server`` per test (its own SQLite home, a bootstrap admin token, loopback), next to
small stand-ins for the helpers they import from MLflow's ``tests`` package. Tests of features
Slipway documents as unsupported, or that read the MLflow server's files, are skipped with the
reason. pytest runs in an interpreter with ``mlflow`` and ``pytest`` (``--python``; by default
``.bench/venv-mlflow-conformance``, built with uv the first time). MLflow's code stays in the
scratch folder; nothing of it is written into this repository.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MLFLOW_PIN = "mlflow==3.17.2"
MODULES = ("tests/tracking/test_rest_tracking.py", "tests/tracking/test_model_registry.py")
REBIND = "\nfrom slipway_conformance import client, mlflow_client  # noqa: E402,F401,F811  (Slipway's harness)\n"

# Test name -> why it is not run against Slipway (docs/mlflow.md lists each feature).
SKIPS = {
    # Features Slipway does not serve ("Not supported yet" / "What differs").
    **{name: "traces are not supported" for name in (
        "test_start_and_end_trace", "test_start_and_end_trace_non_string_name", "test_search_traces",
        "test_delete_traces", "test_set_and_delete_trace_tag", "test_get_trace_artifact_handler")},
    **{name: "the GraphQL endpoint (MLflow UI) is not served" for name in (
        "test_graphql_handler", "test_get_experiment_graphql", "test_get_run_and_experiment_graphql",
        "test_get_metric_history_bulk_interval_graphql", "test_search_runs_graphql",
        "test_list_artifacts_graphql", "test_search_datasets_graphql")},
    "test_create_promptlab_run_handler_rejects_invalid_requests": "prompt lab runs are not supported",
    "test_create_promptlab_run_handler_returns_expected_results": "prompt lab runs are not supported",
    "test_gateway_proxy_handler_rejects_invalid_requests": "the deployments gateway proxy is not served",
    "test_search_dataset_handler_rejects_invalid_requests": "the UI's search-datasets endpoint is not served",
    "test_search_dataset_handler_returns_expected_results": "the UI's search-datasets endpoint is not served",
    "test_path_validation": "the UI's /get-artifact and /model-versions/get-artifact are not served",
    "test_upload_artifact_handler_rejects_invalid_requests": "the UI's upload-artifact endpoint is not served",
    "test_upload_artifact_handler": "the UI's upload-artifact and /get-artifact endpoints are not served",
    "test_update_registered_model_flow": "registered models are not renamed",
    "test_delete_registered_model_flow": "registered models are not deleted",
    "test_delete_model_version_flow": "model versions are not deleted",
    "test_latest_models": "no stages",
    # The MLflow server's own files or code, not its REST answers.
    "test_create_model_version_with_path_source": "local filesystem sources on the server",
    "test_create_model_version_with_file_uri": "file:// sources on the server's filesystem",
    "test_logging_model_with_local_artifact_uri": "expects a file:// artifact root",
    "test_get_metric_history_bulk_calls_optimized_impl_when_expected": "MLflow's handler in-process",
    "test_get_sampled_steps_from_steps": "a unit test of MLflow's server code",
    # Versions of made-up runs: Slipway registers a version only from a real run's logged model.
    **{name: "registers versions from made-up 'runs:/run_id/model' sources" for name in (
        "test_search_model_versions_filter_string", "test_search_model_versions_max_results",
        "test_search_model_versions_order_by", "test_create_and_query_model_version_flow",
        "test_get_model_version", "test_update_model_version_flow", "test_set_delete_model_version_tag_flow",
        "test_set_model_version_tag_with_empty_string_as_value",
        "test_set_delete_registered_model_alias_and_get_model_version_by_alias_flow",
        "test_copy_model_version_flow")},
}

FIXTURES = '''
"""Fixtures that replace MLflow's own servers by a fresh `slipway server` per test."""
import contextlib, os, shutil, socket, subprocess, tempfile, time

import mlflow
import pytest
import requests
from mlflow import MlflowClient

SLIPWAY = os.environ["SLIPWAY_CONFORMANCE_SLIPWAY"]
TOKEN = "slw_conformance-admin"


class SlipwayServer:
    """One `slipway server` on loopback over a new home; started ahead of the test that uses it."""

    def __init__(self):
        self.home = tempfile.mkdtemp(prefix="slipway-conformance-")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SLIPWAY_HOME": self.home, "SLIPWAY_BOOTSTRAP_TOKEN": TOKEN}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # each server imports Slipway anew: keep the bytecode
        self.log = open(os.path.join(self.home, "server.log"), "w")
        self.process = subprocess.Popen([SLIPWAY, "server", "--port", str(self.port)], env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self):
        for _ in range(1200):
            if self.process.poll() is not None:
                raise RuntimeError(open(os.path.join(self.home, "server.log")).read()[-2000:])
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/api/2.0/mlflow/experiments/search?max_results=1",
                                headers={"Authorization": "Bearer " + TOKEN}, timeout=5).ok:
                    return
            time.sleep(0.1)
        raise RuntimeError("slipway server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(30)
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


_spare = []
AHEAD = int(os.environ.get("SLIPWAY_CONFORMANCE_AHEAD", "2"))


@pytest.fixture
def slipway_url():
    server = _spare.pop(0) if _spare else SlipwayServer()
    while len(_spare) < AHEAD:  # the next tests' servers start while this one runs
        _spare.append(SlipwayServer())
    server.wait_ready()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["slipway"])
def mlflow_client(slipway_url):
    mlflow.set_tracking_uri(slipway_url)
    yield MlflowClient(slipway_url)
    mlflow.set_tracking_uri(None)


@pytest.fixture(params=["slipway"])
def client(slipway_url):
    c = MlflowClient(slipway_url)
    c._store_type = "slipway"
    yield c
'''

CONFTEST = '''
"""Slipway's harness: the admin token on every request to the server, and the skip list."""
import os

import pytest
import requests

from slipway_conformance import TOKEN, _spare, slipway_url  # noqa: F401  (the fixture, for every module)

os.environ["MLFLOW_TRACKING_TOKEN"] = TOKEN
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
SKIPS = {skips!r}

_request = requests.Session.request


def _with_token(self, method, url, *args, **kwargs):
    headers = dict(kwargs.pop("headers", None) or {{}})
    if str(url).startswith("http://127.0.0.1:"):
        headers.setdefault("Authorization", "Bearer " + TOKEN)
    return _request(self, method, url, *args, headers=headers, **kwargs)


requests.Session.request = _with_token

if os.environ.get("SLIPWAY_CONFORMANCE_RENAME"):  # --rename-experiments: a diagnostic, not the count
    import re

    from mlflow import MlflowClient

    _create = MlflowClient.create_experiment

    def _renamed(self, name, *args, **kwargs):
        return _create(self, re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-"), *args, **kwargs)

    MlflowClient.create_experiment = _renamed


def pytest_collection_modifyitems(config, items):
    for item in items:
        reason = SKIPS.get(getattr(item, "originalname", item.name))
        if reason:
            item.add_marker(pytest.mark.skip(reason="unsupported by Slipway: " + reason))


def pytest_sessionfinish(session, exitstatus):
    while _spare:
        _spare.pop().stop()
'''

STUBS = {
    "tests/__init__.py": "",
    "tests/tracking/__init__.py": "",
    "tests/integration/__init__.py": "",
    "tests/helper_functions.py": '''
import socket


def get_safe_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
''',
    "tests/integration/utils.py": '''
from click.testing import CliRunner


def invoke_cli_runner(*args, **kwargs):
    result = CliRunner().invoke(*args, **kwargs)
    assert result.exit_code == 0, result.output
    return result
''',
    "tests/tracking/integration_test_utils.py": '''
import requests


def _send_rest_tracking_post_request(tracking_server_uri, api_path, json_payload, auth=None):
    return requests.post(tracking_server_uri + api_path, json=json_payload, auth=auth)


def _init_server(*args, **kwargs):
    raise RuntimeError("replaced by slipway server (slipway_conformance.py)")


class ServerThread:
    def __init__(self, *args, **kwargs):
        raise RuntimeError("replaced by slipway server (slipway_conformance.py)")


def _await_server_down_or_die(*args, **kwargs):
    pass
''',
}


def mlflow_python(path: str | None) -> str:
    """The interpreter with mlflow and pytest: the one given, or a venv built with uv."""
    if path:
        return os.path.abspath(path)  # not resolve(): a venv's python is a symlink
    venv = REPO / ".bench" / "venv-mlflow-conformance"
    python = venv / "bin" / "python"
    if not python.exists():
        uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        subprocess.run([uv, "pip", "install", "-q", "--python", str(python), MLFLOW_PIN, "pytest"], check=True)
    return str(python)


def prepare(checkout: Path, out: Path) -> list[str]:
    """Write the scratch folder; returns the copied modules' paths relative to it."""
    copied = []
    for module in MODULES:
        source = checkout / module
        if not source.exists():
            raise SystemExit(f"error: {source} not found (give the root of an MLflow checkout)")
        target = out / module
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text() + REBIND)
        copied.append(module)
    for name, text in STUBS.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(textwrap.dedent(text).lstrip())
    (out / "slipway_conformance.py").write_text(textwrap.dedent(FIXTURES).lstrip())
    (out / "conftest.py").write_text(textwrap.dedent(CONFTEST).lstrip().format(skips=SKIPS))
    return copied


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="root of an MLflow checkout")
    parser.add_argument("--python", help="interpreter with mlflow and pytest installed")
    parser.add_argument("--slipway", default=str(REPO / ".venv" / "bin" / "slipway"), help="the slipway executable")
    parser.add_argument("--out", type=Path, help="scratch folder (default: a temporary one, removed)")
    parser.add_argument("--rename-experiments", action="store_true",
                        help="diagnostic: rewrite the experiment names MLflow's tests use with spaces and "
                             "brackets ('Oh My' -> 'Oh-My'), which Slipway refuses, to see what the rest of each test finds")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="mlflow-conformance-"))
    try:
        modules = prepare(args.checkout.resolve(), out)
        env = {**os.environ, "SLIPWAY_CONFORMANCE_SLIPWAY": str(Path(args.slipway).resolve()),
               "GIT_PYTHON_REFRESH": "quiet", **({"SLIPWAY_CONFORMANCE_RENAME": "1"} if args.rename_experiments else {})}
        env.pop("MLFLOW_TRACKING_URI", None)
        command = [mlflow_python(args.python), "-m", "pytest", "-p", "no:cacheprovider", "-rfEs", "-q",
                   *modules, *extra]
        return subprocess.run(command, cwd=out, env=env).returncode
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
