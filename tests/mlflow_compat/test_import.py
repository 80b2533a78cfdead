"""``slipway import mlflow`` of stores the real MLflow package wrote: a SQLite database, a file store
(``./mlruns``) and a running ``mlflow server``. What MLflow's own client reads from the original store is compared with what it
reads from ``slipway server`` after the import; a second import adds nothing; an import killed inside
a run's transaction leaves whole runs only and a re-run completes the set exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from slipway.importers.mlflow import import_mlflow
from slipway.workspace import open_workspace
from tests.mlflow_compat.conftest import MlflowServer
from tests.mlflow_compat.mlflow_stores import READ, WRITE, run_mlflow
from tests.support import free_port, make_settings, user_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # MLflow writes its store slowly on a busy machine
RUNS = {"base", "sweep", "tuned", "other"}  # "gone" is deleted and "live" still RUNNING in MLflow


@pytest.fixture(scope="module")
def mlflow_db(tmp_path_factory: pytest.TempPathFactory, mlflow_python: str) -> tuple[Path, dict[str, Any]]:
    """A SQLite MLflow store (artifacts under ./mlruns beside it) written by MLflow's own client."""
    folder = tmp_path_factory.mktemp("mlflow-db")
    written = run_mlflow(mlflow_python, WRITE, folder, "sqlite:///mlflow.db")
    (folder / "X.json").write_text(json.dumps(written["X"]))
    return folder, written


def _expected(theirs: dict[str, Any], written: dict[str, Any]) -> dict[str, Any]:
    """MLflow's answer as Slipway should give it back: without the runs it must skip, and the
    protected alias left for governance (experiments keep their names, "/Users/me/exp two" too)."""
    runs = {k: v for k, v in theirs["runs"].items() if k not in (written["runs"]["live"], written["runs"]["gone"])}
    models = theirs["models"]
    models["churn"]["aliases"].pop("champion")
    return {"runs": runs, "models": models, "prediction": theirs["prediction"]}


def _check_summary(summary: dict[str, Any], written: dict[str, Any]) -> None:
    assert summary["imported"]["runs"] == 4 and summary["imported"]["model_versions"] == 2
    assert summary["imported"]["aliases"] == 1 and summary["imported"]["logged_models"] == 2
    assert summary["imported"]["metric_points"] == 2 * (2 * 300 + 2) + 1
    reasons = {(s["kind"], s["id"]): s["reason"] for s in summary["skipped"]}
    assert reasons[("run", written["runs"]["gone"])] == "deleted in MLflow"
    assert reasons[("run", written["runs"]["live"])].startswith("RUNNING in MLflow")
    assert "protected" in reasons[("alias", "churn@champion")]
    assert not [r for r in summary["renamed"] if r["kind"] in ("experiment", "run")]  # free text, kept as MLflow had it


def test_database_import_reproduces_what_mlflow_serves(mlflow_server: MlflowServer, mlflow_db: tuple[Path, dict]) -> None:
    folder, written = mlflow_db
    # Through slipway server's own API (remote transport): each run crosses HTTP as one call.
    summary = import_mlflow(mlflow_server.workspace(), f"sqlite:///{folder / 'mlflow.db'}").to_dict()
    _check_summary(summary, written)

    theirs = run_mlflow(mlflow_server.python, READ, folder, "sqlite:///mlflow.db")
    ours = run_mlflow(mlflow_server.python, READ, folder, mlflow_server.url, mlflow_server.token)
    expected = _expected(theirs, written)
    assert set(ours["runs"]) == set(expected["runs"]) and len(ours["runs"]) == len(RUNS)
    for run_id, run in expected["runs"].items():
        assert ours["runs"][run_id] == run, run["name"]
    assert ours["runs"][written["runs"]["tuned"]]["parent"] == written["runs"]["sweep"]
    assert len(ours["runs"][written["runs"]["base"]]["history"]["loss"]) == 300
    assert ours["models"] == expected["models"]
    assert ours["prediction"] == expected["prediction"]


def test_second_import_adds_nothing_and_every_object_is_audited(home: Path, mlflow_db: tuple[Path, dict]) -> None:
    folder, written = mlflow_db
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with open_workspace(make_settings(home)) as ws:
        first = import_mlflow(ws, uri).to_dict()
        _check_summary(first, written)
        runs_before = {r.id for r in ws.tracking.iter_runs()}
        again = import_mlflow(ws, uri).to_dict()
        assert again["imported"] == {}
        assert again["already_imported"] == {"experiments": 3, "runs": 4, "registered_models": 1,
                                             "model_versions": 2, "aliases": 1}
        assert {r.id for r in ws.tracking.iter_runs()} == runs_before
        actions = Counter(e.action for e in ws.audit.log(limit=10_000))
        assert actions["run.import"] == 4 and actions["registry.register_version"] == 2
        assert actions["registry.create_model"] == 1 and actions["registry.set_alias"] == 1
        assert actions["experiment.create"] == 3
        base = ws.tracking.get_run(next(r.id for r in ws.tracking.iter_runs() if r.name == "base"))
        assert base.tags["mlflow.import.run_id"] == written["runs"]["base"] and base.status == "FINISHED"
        event = ws.audit.log(subject=f"run:{base.id}", action="run.import")[0]
        assert event.details["origin"] == {"mlflow.import.run_id": written["runs"]["base"]}
        assert event.details["metrics"] == 2 * 300 + 2
        version = ws.registry.get_version("churn", 1)
        assert version.flavor == "mlflow" and version.run_id == base.id and version.tags["validated"] == "yes"
        assert version.tags["mlflow.import.version"] == "1" and version.params == {"C": "1.0", "solver": "lbfgs"}
        assert ws.lineage is not None and ws.audit.verify().ok


@pytest.fixture(scope="module")
def mlflow_files(tmp_path_factory: pytest.TempPathFactory, mlflow_python: str) -> tuple[Path, str, dict[str, Any]]:
    """An MLflow file store (``mlruns/``, tracking URI ``file:``) written by MLflow's own client."""
    folder = tmp_path_factory.mktemp("mlflow-files")
    uri = f"file://{folder / 'mlruns'}"
    written = run_mlflow(mlflow_python, WRITE, folder, uri, MLFLOW_ALLOW_FILE_STORE="true")
    (folder / "X.json").write_text(json.dumps(written["X"]))
    return folder, uri, written


def test_file_store_import_reproduces_what_mlflow_reads(mlflow_server: MlflowServer,
                                                        mlflow_files: tuple[Path, str, dict]) -> None:
    folder, uri, written = mlflow_files
    ws = mlflow_server.workspace()
    summary = import_mlflow(ws, uri).to_dict()
    theirs = run_mlflow(mlflow_server.python, READ, folder, uri, MLFLOW_ALLOW_FILE_STORE="true")
    ours = run_mlflow(mlflow_server.python, READ, folder, mlflow_server.url, mlflow_server.token)
    expected = _expected(theirs, written)
    assert set(ours["runs"]) == set(expected["runs"]) and len(ours["runs"]) == len(RUNS)
    for run_id, run in expected["runs"].items():
        assert ours["runs"][run_id] == run, run["name"]
    assert ours["runs"][written["runs"]["tuned"]]["parent"] == written["runs"]["sweep"]
    assert ours["models"] == expected["models"] and ours["prediction"] == expected["prediction"]
    # Every point MLflow's client reads from the files was imported (the file store keeps the
    # points log_model copies again, which the SQL store folds; both sides show them alike).
    points = sum(len(h) for run in expected["runs"].values() for h in run["history"].values())
    assert summary["imported"]["metric_points"] == points >= 2 * (2 * 300 + 2) + 1
    assert summary["imported"]["runs"] == 4 and summary["imported"]["model_versions"] == 2
    assert summary["imported"]["logged_models"] == 2 and summary["imported"]["aliases"] == 1
    reasons = {(s["kind"], s["id"]): s["reason"] for s in summary["skipped"]}
    assert reasons[("run", written["runs"]["gone"])] == "deleted in MLflow"
    assert reasons[("run", written["runs"]["live"])].startswith("RUNNING in MLflow")
    assert "protected" in reasons[("alias", "churn@champion")]
    # The folder's plain path names the same store: a second import adds nothing.
    again = import_mlflow(ws, str(folder / "mlruns")).to_dict()
    assert again["imported"] == {} and again["already_imported"]["runs"] == 4


KILLED_IMPORT = """
import os, sys
from slipway.tracking import importing
calls = 0
real = importing.insert_points
def dying(conn, rows):
    global calls
    calls += 1
    real(conn, rows)
    if calls == 3:
        os._exit(9)  # killed inside the second transaction (the third run), its points written, not committed
importing.insert_points = dying
from slipway.importers.mlflow import import_mlflow
from slipway.workspace import default_workspace
import_mlflow(default_workspace(), sys.argv[1], batch_runs=2)  # runs are written two per transaction
"""


def test_an_import_killed_mid_run_leaves_whole_runs_and_a_rerun_completes_once(
        home: Path, mlflow_db: tuple[Path, dict]) -> None:
    folder, written = mlflow_db
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    env = {**user_env(home), "PATH": str(Path(sys.executable).parent)}
    script = home.parent / "killed_import.py"
    script.write_text(textwrap.dedent(KILLED_IMPORT))
    killed = subprocess.run([sys.executable, str(script), uri], env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == 9, killed.stderr[-2000:]
    with open_workspace(make_settings(home)) as ws:
        assert len(list(ws.tracking.iter_runs())) == 2  # two whole runs; nothing of the third
        assert len(ws.audit.log(action="run.import")) == 2
    cli = subprocess.run([str(Path(sys.executable).parent / "slipway"), "import", "mlflow", uri, "--json"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0, cli.stderr[-2000:]
    summary = json.loads(cli.stdout)
    assert summary["imported"]["runs"] == 2 and summary["already_imported"]["runs"] == 2
    with open_workspace(make_settings(home)) as ws:
        runs = list(ws.tracking.iter_runs())
        origins = Counter(r.tags["mlflow.import.run_id"] for r in runs)
        assert set(origins) == {written["runs"][n] for n in RUNS} and set(origins.values()) == {1}
        base = next(r for r in runs if r.name == "base")
        assert len(ws.tracking.get_metric_history(base.id, "auc")) == 300
        assert [v.version for v in ws.registry.list_versions("churn")] == [2, 1]


@pytest.mark.timeout(2400)  # an MLflow server and its client on a loaded 2-core machine: many minutes
def test_import_from_a_running_mlflow_server(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    """Read through MLflow's REST API, artifacts through its proxied artifact API."""
    folder = tmp_path / "mlflow-server"
    folder.mkdir()
    port = free_port()
    mlflow_bin = str(Path(mlflow_server.python).parent / "mlflow")
    server = subprocess.Popen([mlflow_bin, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                               "--backend-store-uri", "sqlite:///server.db", "--artifacts-destination", "./artifacts"],
                              cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for(url, server)
        written = run_mlflow(mlflow_server.python, WRITE, folder, url, STEPS="40")
        (folder / "X.json").write_text(json.dumps(written["X"]))
        summary = import_mlflow(mlflow_server.workspace(), url).to_dict()
        assert summary["imported"]["runs"] == 4 and summary["imported"]["model_versions"] == 2
        theirs = run_mlflow(mlflow_server.python, READ, folder, url)
        ours = run_mlflow(mlflow_server.python, READ, folder, mlflow_server.url, mlflow_server.token)
    finally:
        server.terminate()
        server.wait(timeout=60)
    expected = _expected(theirs, written)
    assert ours["runs"] == expected["runs"]
    assert ours["models"] == expected["models"] and ours["prediction"] == expected["prediction"]
    assert ours["runs"][written["runs"]["base"]]["notes"] == ["notes/readme.txt"]
    assert ours["runs"][written["runs"]["base"]]["config"] == {"C": 1.0, "name": "base"}


def _wait_for(url: str, server: subprocess.Popen[bytes]) -> None:
    import time

    import httpx

    deadline = time.monotonic() + 600  # MLflow's server takes ~10 s to start on an idle machine, minutes on a loaded one
    while time.monotonic() < deadline:
        assert server.poll() is None, "mlflow server exited"
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not start")


@pytest.mark.parametrize(("uri", "says"), [
    ("sqlite:///{tmp}/missing.db", "does not exist"),
    ("sqlite:///{tmp}/notes.txt", "cannot read the MLflow database"),
    ("sqlite:///{home}/slipway.db", "is not an MLflow tracking database"),
    ("ftp://example.com/x", "is not an MLflow tracking URI"),
    ("./mlruns", "is not an MLflow tracking URI"),
    ("{tmp}", "is not an MLflow file store"),
    ("http://127.0.0.1:{port}", "cannot reach the MLflow server"),
    ("postgresql://nobody:secret@127.0.0.1:{port}/mlflow", "cannot read the MLflow database"),
])
def test_bad_uris_are_one_line_errors(home: Path, tmp_path: Path, uri: str, says: str) -> None:
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    env = {**user_env(home), "PATH": str(Path(sys.executable).parent)}
    subprocess.run([str(Path(sys.executable).parent / "slipway"), "experiments", "ls"], env=env, check=True,
                   capture_output=True)  # makes the Slipway store, an SQLite file that is no MLflow store
    uri = uri.format(tmp=tmp_path, home=home, port=free_port())
    done = subprocess.run([str(Path(sys.executable).parent / "slipway"), "import", "mlflow", uri], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr, done.stderr
    assert "secret" not in done.stderr and "Traceback" not in done.stderr
