"""``mlflow.sklearn.log_model`` → ``register_model`` → alias → ``pyfunc.load_model("models:/name@alias")``
through slipway server, with the version an ordinary Slipway version of an ``mlflow``-flavor bundle."""

from __future__ import annotations

import glob
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mlflow_compat.conftest import MlflowServer

# Slipway's own loader, in Slipway's interpreter, with MLflow importable from the client's venv
# (appended after Slipway's packages): the 'mlflow' flavor loads through mlflow.pyfunc.
SLIPWAY_LOAD = """
import json, sys
sys.path.append(sys.argv[3])
import slipway
from sklearn.datasets import load_iris
X, _ = load_iris(return_X_y=True, as_frame=True)
ws = slipway.connect(sys.argv[1], token=sys.argv[2])
print(json.dumps(ws.registry.load("iris@challenger").predict(X).tolist()))
"""

pytestmark = pytest.mark.slow


def test_log_register_alias_and_load_an_mlflow_model(mlflow_server: MlflowServer) -> None:
    out = mlflow_server.run("""
        import json, mlflow
        from mlflow import MlflowClient
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        X, y = load_iris(return_X_y=True, as_frame=True)
        mlflow.set_experiment("iris")
        with mlflow.start_run() as run:
            model = LogisticRegression(max_iter=300).fit(X, y)
            mlflow.log_param("max_iter", 300)
            info = mlflow.sklearn.log_model(model, name="model", input_example=X.head(3))
        c = MlflowClient()
        logged = c.get_logged_model(info.model_id)
        found = [m.model_id for m in c.search_logged_models(experiment_ids=[run.info.experiment_id],
                                                             filter_string="name = 'model'")]
        mv = mlflow.register_model(info.model_uri, "iris")
        c.set_registered_model_alias("iris", "challenger", mv.version)
        loaded = mlflow.pyfunc.load_model("models:/iris@challenger")
        by_run = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
        print(json.dumps({"same": bool((loaded.predict(X) == model.predict(X)).all()),
                          "predictions": model.predict(X).tolist(),
                          "same_by_run": bool((by_run.predict(X) == model.predict(X)).all()),
                          "run": run.info.run_id, "model_id": info.model_id, "status": str(logged.status),
                          "found": found, "version": mv.version, "source_run": logged.source_run_id}))
    """)
    assert out["same"] and out["same_by_run"]
    assert out["status"] == "READY" and out["found"] == [out["model_id"]] and out["source_run"] == out["run"]
    ws = mlflow_server.workspace()
    version = ws.registry.resolve("iris@challenger")
    assert (version.version, version.run_id, version.flavor) == (1, out["run"], "mlflow")
    assert version.artifact_path == f"models/{out['model_id']}" and version.params == {"max_iter": "300"}
    files = {a.path: a for a in ws.tracking.list_artifacts(out["run"])}
    assert files[f"models/{out['model_id']}"].kind == "dir" and f"models/{out['model_id']}/MLmodel" in files
    assert ws.lineage.upstream("model:iris/1").ids("run") == [out["run"]]
    actions = {e.action for e in ws.audit.log(action="registry.*", limit=50)}
    assert {"registry.create_model", "registry.register_version", "registry.set_alias"} <= actions

    site = glob.glob(str(Path(mlflow_server.python).parents[1] / "lib" / "python3*" / "site-packages"))[0]
    done = subprocess.run([sys.executable, "-c", SLIPWAY_LOAD, mlflow_server.url, mlflow_server.token, site],
                          capture_output=True, text=True, timeout=300, cwd=mlflow_server.workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == out["predictions"]
