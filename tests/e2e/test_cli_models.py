"""``slipway models …`` end to end: a real git repository, a real training script, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slipway.workspace import Workspace
from tests.support import AI4I

SLIPWAY = str(Path(sys.executable).with_name("slipway"))

TRAIN = textwrap.dedent(f"""
    import pandas as pd
    import slipway
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = ["Type", "Air temperature [K]", "Torque [Nm]", "Tool wear [min]"]
    frame = pd.read_csv({str(AI4I)!r}, nrows=1500)
    X, y = frame[features], frame["Machine failure"]
    model = Pipeline([("prep", ColumnTransformer([("t", OneHotEncoder(), ["Type"]), ("n", StandardScaler(), features[1:])])),
                      ("rf", RandomForestClassifier(n_estimators=10, random_state=0))]).fit(X, y)
    with slipway.start_run("train", experiment="maintenance"):
        slipway.log_params({{"n_estimators": 10}})
        slipway.log_metric("accuracy", model.score(X, y))
        slipway.log_model(model, input_example=X.head(8), registered_model_name="maint")
""")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "train.py").write_text(TRAIN)
    env = {**os.environ, "SLIPWAY_HOME": str(tmp_path / "home"),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com"}
    env.pop("SLIPWAY_SERVER_URL", None)
    for command in (["git", "init", "-q"], ["git", "add", "train.py"], ["git", "commit", "-qm", "train"]):
        assert _run(command, root, env).returncode == 0
    done = _run([sys.executable, "train.py"], root, env)
    assert done.returncode == 0, done.stderr
    return root, env


def test_models_cli(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    moved = _run([SLIPWAY, "models", "alias", "maint", "challenger", "1"], root, env)
    assert moved.returncode == 0 and "maint@challenger → version 1" in moved.stdout
    refused = _run([SLIPWAY, "models", "alias", "maint", "champion", "1"], root, env)
    assert refused.returncode == 2 and "protected" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    check = _run([SLIPWAY, "models", "load-check", "maint@challenger", "--json"], root, env)
    assert check.returncode == 0, check.stderr
    report = json.loads(check.stdout)
    assert report["verified"] is True and report["example_rows_predicted"] == 8 and report["version"] == "maint/1"
    assert report["flavor"] == "sklearn"

    head = _run(["git", "rev-parse", "HEAD"], root, env).stdout.strip()
    info = json.loads(_run([SLIPWAY, "models", "reproduce", "maint/1", "--json"], root, env).stdout)
    assert info["git_commit"] == head and info["git_dirty"] is False
    assert info["params"] == {"n_estimators": "10"} and "scikit-learn==" in info["packages_lock"]
    assert info["source"].endswith("train.py")

    rerun = _run([SLIPWAY, "models", "reproduce", "maint/1", "--run"], root, env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"git commit: {head}" in rerun.stdout
    versions = json.loads(_run([SLIPWAY, "models", "versions", "maint", "--json"], root, env).stdout)
    assert [v["version"] for v in versions] == [2, 1] and versions[1]["params"] == {"n_estimators": "10"}
    assert versions[1]["aliases"] == ["challenger"] and versions[0]["run_id"] != versions[1]["run_id"]
    # The re-run trained and registered again, from a worktree that was removed afterwards.
    assert _run(["git", "worktree", "list"], root, env).stdout.count("\n") == 1


def test_models_cli_listing_show_register_and_alias_delete(sqlite_ws: Workspace) -> None:
    """The remaining commands, in-process through Typer's runner (the subprocess test covers exit codes)."""
    import slipway
    from slipway.cli.models import app
    from tests.models.ai4i import ai4i, fitted_pipeline

    X, _ = ai4i()
    with slipway.start_run("cli") as run:
        slipway.log_model(fitted_pipeline(), input_example=X.head(3))
    runner = CliRunner()
    registered = runner.invoke(app, ["register", "maint", run.id, "--description", "first", "--json"])
    assert registered.exit_code == 0, registered.output
    assert json.loads(registered.stdout)["description"] == "first"
    sqlite_ws.registry.create_model("other", tags={"team": "ops"})
    by_name = json.loads(runner.invoke(app, ["ls", "--name", "mai*", "--json"]).stdout)
    assert [m["name"] for m in by_name] == ["maint"]
    by_tag = json.loads(runner.invoke(app, ["ls", "--tag", "team=ops", "--json"]).stdout)
    assert [m["name"] for m in by_tag] == ["other"]
    shown = json.loads(runner.invoke(app, ["show", "maint", "--json"]).stdout)
    assert shown["model"]["latest_version"] == 1 and [v["version"] for v in shown["versions"]] == [1]
    assert runner.invoke(app, ["alias", "maint", "staging", "1"]).exit_code == 0
    text = runner.invoke(app, ["show", "maint@staging"]).stdout
    assert "bundle_digest" in text and "staging" in text
    assert runner.invoke(app, ["alias", "maint", "staging", "--delete"]).exit_code == 0
    assert sqlite_ws.registry.get_model("maint").aliases == {}
    table = runner.invoke(app, ["versions", "maint"])
    assert table.exit_code == 0 and "Versions of maint" in table.stdout
