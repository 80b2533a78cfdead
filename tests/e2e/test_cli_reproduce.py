"""``slipway models reproduce --run`` end to end (issue 14 item 7): a real git repository whose
``slipway.toml`` keeps the store inside it, a training script that reads a dataset from the store
by name and takes arguments, and the real CLI in subprocesses.

The re-run must use the same store (not a fresh one the checked-out config would open), the same
arguments, and the dataset version the original run read even after a newer one was added; it
then compares the two runs. Errors are one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from tests.support import AI4I

SLIPWAY = [sys.executable, "-m", "slipway.cli.main"]

TRAIN = textwrap.dedent("""
    import argparse
    import os
    import random
    import slipway
    from sklearn.ensemble import RandomForestClassifier

    parser = argparse.ArgumentParser()
    parser.add_argument("--trees", type=int, default=5)
    parser.add_argument("--note", default="")
    parser.add_argument("--jitter", action="store_true")
    parser.add_argument("--stop", default="")
    args = parser.parse_args()
    if args.stop and os.path.exists(args.stop):
        raise RuntimeError(f"stopped by {args.stop}")
    ws = slipway.connect()
    version = ws.data.get_version("sensors")          # the latest, when not reproducing
    frame = ws.data.load("sensors").to_pandas()
    features = ["Air temperature [K]", "Torque [Nm]", "Tool wear [min]"]
    X, y = frame[features], frame["Machine failure"]
    with slipway.start_run("train", experiment="sensors"):
        slipway.log_params({"trees": args.trees, "note": args.note})
        slipway.log_input(version)
        model = RandomForestClassifier(n_estimators=args.trees, random_state=0).fit(X, y)
        slipway.log_metrics({"accuracy": model.score(X, y), "rows": float(len(frame))})
        if args.jitter:
            slipway.log_metric("jitter", random.random())
        slipway.log_model(model, input_example=X.head(3), registered_model_name="maint")
    print(f"trained on {version.ref} with {args.trees} trees")
""")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "train.py").write_text(TRAIN)
    (root / "slipway.toml").write_text('[slipway]\nhome = ".slipway"\n')
    (root / ".gitignore").write_text(".slipway/\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update(COLUMNS="200", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    for command in (["git", "init", "-q"], ["git", "add", "."], ["git", "commit", "-qm", "train"]):
        assert _run(command, root, env).returncode == 0
    table = pacsv.read_csv(AI4I)
    for rows, name in ((1200, "week1.csv"), (2400, "week2.csv")):
        pacsv.write_csv(table.slice(0, rows), tmp_path / name)
    return root, env


def test_reproduce_reruns_against_the_same_store_with_the_same_arguments_and_data(
        project: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = project
    assert _run([*SLIPWAY, "data", "add", "sensors", str(tmp_path / "week1.csv")], root, env).returncode == 0
    trained = _run([sys.executable, "train.py", "--trees", "7", "--note", "two words"], root, env)
    assert trained.returncode == 0, trained.stderr
    # A newer version lands afterwards: the reproduction must still read sensors@1.
    assert _run([*SLIPWAY, "data", "add", "sensors", str(tmp_path / "week2.csv")], root, env).returncode == 0

    again = _run([*SLIPWAY, "models", "reproduce", "maint/1", "--run"], root, env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "trained on sensors@1 with 7 trees" in again.stdout
    assert "reproduced: run" in again.stdout and "Traceback" not in again.stderr

    versions = json.loads(_run([*SLIPWAY, "models", "versions", "maint", "--json"], root, env).stdout)
    assert [v["version"] for v in versions] == [2, 1]
    rerun, original = versions
    assert rerun["params"] == original["params"] == {"trees": "7", "note": "two words"}
    assert [(d["dataset"], d["version"]) for d in rerun["datasets"]] == [("sensors", 1)]
    assert rerun["metrics"] == original["metrics"] and rerun["metrics"]["rows"] == 1200.0
    # Nothing was written into the checked-out commit's own (empty) store, and the worktree is gone.
    assert _run(["git", "worktree", "list"], root, env).stdout.count("\n") == 1

    report = json.loads(_run([*SLIPWAY, "models", "reproduce", "maint/1", "--run", "--json"], root, env).stdout)
    assert report["matches"] is True and report["reproduction"]["original_run"] == original["run_id"]


def test_reproduce_errors_are_one_line(project: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root, env = project
    stop = tmp_path / "stop"
    assert _run([*SLIPWAY, "data", "add", "sensors", str(tmp_path / "week1.csv")], root, env).returncode == 0
    assert _run([sys.executable, "train.py", "--jitter", "--stop", str(stop)], root, env).returncode == 0

    # A re-run whose results differ: named in one line, exit 1.
    differs = _run([*SLIPWAY, "models", "reproduce", "maint/1", "--run"], root, env)
    assert differs.returncode == 1, differs.stdout[-2000:] + differs.stderr[-2000:]
    assert differs.stderr.strip().splitlines() == [differs.stderr.strip()] and "metric jitter" in differs.stderr

    # A re-run that fails: its exception's last line, in one line, exit 1, no traceback shown.
    stop.write_text("x")
    failed = _run([*SLIPWAY, "models", "reproduce", "maint/1", "--run"], root, env)
    assert failed.returncode == 1
    assert len(failed.stderr.strip().splitlines()) == 1 and "RuntimeError: stopped by" in failed.stderr
    assert "Traceback" not in failed.stdout + failed.stderr

    # A run started from `python -c` has no script to re-run; an unknown version is NotFound.
    inline = TRAIN.replace("args = parser.parse_args()", "args = parser.parse_args([])")
    assert _run([sys.executable, "-c", inline], root, env).returncode == 0
    refused = _run([*SLIPWAY, "models", "reproduce", "maint/3", "--run"], root, env)
    assert refused.returncode == 2 and "interactive session" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    missing = _run([*SLIPWAY, "models", "reproduce", "maint/9", "--run"], root, env)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1


PIPELINE = textwrap.dedent("""
    from slipway.pipelines import StepContext, pipeline, step
    from slipway.pipelines.steps import register_model, validate_data

    FEATURES = ["Air temperature [K]", "Torque [Nm]", "Tool wear [min]"]


    @step
    def train(table, trees: int = 5):
        from sklearn.ensemble import RandomForestClassifier

        frame = table.to_pandas()
        return RandomForestClassifier(n_estimators=trees, random_state=0).fit(frame[FEATURES], frame["Machine failure"])


    @step(local=True)
    def track(model, table, trees: int, context: StepContext = None):
        from slipway.models.logging import log_model

        ws = context.workspace
        frame = table.to_pandas()
        with context.start_run("train", experiment="sensors") as run:
            ws.tracking.log_params({"trees": trees})
            ws.tracking.log_metrics({"accuracy": model.score(frame[FEATURES], frame["Machine failure"]),
                                     "rows": float(len(frame))})
            return log_model(ws, model, "model", input_example=frame[FEATURES].head(3), run_id=run.id)


    @pipeline
    def retrain(dataset: str = "sensors", trees: int = 5):
        table = validate_data(dataset)
        register_model(track(train(table, trees=trees), table, trees), "sensors-model")
""")


def test_reproduce_reruns_a_pipeline_from_the_folder_it_ran_in_without_the_cache(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    project = root / "project"
    project.mkdir(parents=True)
    (project / "pipeline.py").write_text(PIPELINE)
    (project / "slipway.toml").write_text('[slipway]\nhome = ".slipway"\n')
    (root / ".gitignore").write_text(".slipway/\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update(COLUMNS="200", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    for command in (["git", "init", "-q"], ["git", "add", "."], ["git", "commit", "-qm", "pipeline"]):
        assert _run(command, root, env).returncode == 0
    table = pacsv.read_csv(AI4I)
    for rows, name in ((1000, "week1.csv"), (2000, "week2.csv")):
        pacsv.write_csv(table.slice(0, rows), tmp_path / name)

    assert _run([*SLIPWAY, "data", "add", "sensors", str(tmp_path / "week1.csv")], project, env).returncode == 0
    first = _run([*SLIPWAY, "pipelines", "run", "pipeline.py:retrain", "-p", "trees=6"], project, env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert _run([*SLIPWAY, "data", "add", "sensors", str(tmp_path / "week2.csv")], project, env).returncode == 0

    again = _run([*SLIPWAY, "models", "reproduce", "sensors-model/1", "--run"], project, env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "reproduced: run" in again.stdout
    versions = json.loads(_run([*SLIPWAY, "models", "versions", "sensors-model", "--json"], project, env).stdout)
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["params"] == {"trees": "6"} and versions[0]["metrics"]["rows"] == 1000.0
    assert [(d["dataset"], d["version"]) for d in versions[0]["datasets"]] == [("sensors", 1)]
    runs = json.loads(_run([*SLIPWAY, "pipelines", "ls", "--json"], project, env).stdout)
    runs = runs["runs"] if isinstance(runs, dict) else runs
    assert len(runs) == 2 and runs[0]["steps"][0]["cached"] is False  # recomputed, not served from the cache
