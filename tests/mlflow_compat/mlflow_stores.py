"""MLflow stores written by the real MLflow package (in its venv), and a script that reads one back
through MLflow's client, for the ``slipway import mlflow`` tests.

:data:`WRITE` fills whatever ``MLFLOW_TRACKING_URI`` names (a database or a server): two
experiments (one with a name Slipway renames), runs with metric history (NaN and infinity too),
params, tags, artifacts, a nested run, a deleted run, a run still RUNNING, two versions of a
scikit-learn model from ``log_model(registered_model_name=...)``, tags and two aliases.

:data:`READ` prints what MLflow's client sees, keyed by the original MLflow run ids (from the
``mlflow.import.run_id`` tag on Slipway's side), so both answers compare directly.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

WRITE = """
import json, os, mlflow, numpy as np
from mlflow import MlflowClient
from mlflow.entities import Metric
from sklearn.linear_model import LogisticRegression

c = MlflowClient()
rng = np.random.default_rng(7)
X = rng.random((40, 3)); y = (X[:, 0] + X[:, 1] > 1).astype(int)
steps = int(os.environ.get("STEPS", "300"))
exp = mlflow.set_experiment("churn")

def train(name, C, nested=False):
    with mlflow.start_run(run_name=name, nested=nested) as run:
        rid = run.info.run_id
        mlflow.log_params({"C": C, "solver": "lbfgs"})
        mlflow.set_tags({"team": "risk", "note": f"run {name}"})
        points = [Metric(k, float(rng.random()), 1_700_000_000_000 + s * 10, s) for k in ("loss", "auc") for s in range(steps)]
        for i in range(0, len(points), 1000):
            c.log_batch(rid, metrics=points[i:i + 1000])
        mlflow.log_metric("odd", float("nan"), step=0)
        mlflow.log_metric("odd", float("inf"), step=1)
        mlflow.log_text(f"notes of {name}", "notes/readme.txt")
        mlflow.log_dict({"C": C, "name": name}, "config.json")
        model = LogisticRegression(C=C).fit(X, y)
        mlflow.sklearn.log_model(model, name="model", registered_model_name="churn", input_example=X[:2])
        return rid

first = train("base", 1.0)
with mlflow.start_run(run_name="sweep") as parent:
    mlflow.log_param("grid", "C")
    second = train("tuned", 0.1, nested=True)
with mlflow.start_run(run_name="gone") as gone:
    mlflow.log_metric("x", 1.0)
c.delete_run(gone.info.run_id)
live = c.create_run(exp.experiment_id, run_name="live")
mlflow.set_experiment("/Users/me/exp two")
with mlflow.start_run(run_name="other") as other:
    mlflow.log_metric("rmse", 0.5, step=3)
c.update_registered_model("churn", description="churn model")
c.set_registered_model_tag("churn", "owner", "risk")
c.set_model_version_tag("churn", "1", "validated", "yes")
c.set_registered_model_alias("churn", "challenger", "2")
c.set_registered_model_alias("churn", "champion", "1")
print(json.dumps({"runs": {"base": first, "sweep": parent.info.run_id, "tuned": second, "gone": gone.info.run_id,
                           "live": live.info.run_id, "other": other.info.run_id}, "X": X.tolist()}))
"""

READ = """
import json, mlflow, numpy as np
from mlflow import MlflowClient
from mlflow.entities import ViewType

c = MlflowClient()
def original(tags, run_id):
    return tags.get("mlflow.import.run_id", run_id)
def plain(tags):
    return {k: v for k, v in tags.items() if not k.startswith(("mlflow.import.", "mlflow.loggedModel.", "mlflow.log-model",
                                                                "mlflow.parentRunId", "slipway.project"))}
runs, ids = {}, {}
for e in c.search_experiments():
    for r in c.search_runs([e.experiment_id], max_results=1000):
        rid = r.info.run_id
        key = original(r.data.tags, rid)
        ids[rid] = key
        runs[key] = {
            "experiment": e.name, "name": r.info.run_name, "status": r.info.status, "start": r.info.start_time,
            "end": r.info.end_time, "user": r.info.user_id, "params": r.data.params, "tags": plain(r.data.tags),
            "metrics": {k: repr(v) for k, v in r.data.metrics.items()},
            "history": {k: sorted((m.step, m.timestamp, repr(m.value)) for m in c.get_metric_history(rid, k))
                        for k in r.data.metrics},
            "parent": r.data.tags.get("mlflow.parentRunId"),
            "notes": sorted(a.path for a in c.list_artifacts(rid, "notes")),
        }
        if "config.json" in [a.path for a in c.list_artifacts(rid)]:
            runs[key]["config"] = mlflow.artifacts.load_dict(f"runs:/{rid}/config.json")
for key, run in runs.items():
    run["parent"] = ids.get(run["parent"], run["parent"])
models = {}
for m in c.search_registered_models():
    models[m.name] = {"description": m.description, "tags": plain(m.tags), "aliases": {k: str(v) for k, v in m.aliases.items()},
                      "versions": {v.version: {"run": ids.get(v.run_id, v.run_id), "tags": plain(v.tags)}
                                   for v in c.search_model_versions(f"name='{m.name}'")}}
X = np.array(json.loads(open("X.json").read()))
alias = "challenger"
prediction = mlflow.pyfunc.load_model(f"models:/churn@{alias}").predict(X).tolist()
print(json.dumps({"runs": runs, "models": models, "prediction": prediction}))
"""


def run_mlflow(python: str, script: str, cwd: Path, tracking_uri: str, token: str | None = None,
               **env: str) -> dict[str, Any]:
    """Run an MLflow client script in MLflow's venv; it prints one JSON object last."""
    path = cwd / "mlflow_script.py"
    path.write_text(textwrap.dedent(script))
    full_env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
                "GIT_PYTHON_REFRESH": "quiet", **env}
    if token:
        full_env["MLFLOW_TRACKING_TOKEN"] = token
    done = subprocess.run([python, str(path)], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
