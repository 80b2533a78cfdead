"""MLflow runs through the real client: logging, history, search, lifecycle, checked through Slipway."""

from __future__ import annotations

import pytest

from tests.mlflow_compat.conftest import MlflowServer

pytestmark = pytest.mark.slow


def test_a_training_script_writes_an_ordinary_slipway_run(mlflow_server: MlflowServer) -> None:
    out = mlflow_server.run("""
        import json, time, mlflow, pandas as pd
        from mlflow import MlflowClient
        from mlflow.entities import Metric, Param, RunTag
        with mlflow.start_run(run_name="baseline") as run:          # no experiment set: MLflow's "0"
            mlflow.log_param("alpha", 0.5)
            mlflow.log_params({"model": "rf", "depth": 4})
            for step in range(5):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metrics({"auc": 0.91, "f1": 0.8})
            mlflow.set_tags({"team": "risk", "scratch": "yes"})
            mlflow.log_input(mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2]}), name="train-set"), context="training")
        c = MlflowClient()
        rid = run.info.run_id
        c.delete_tag(rid, "scratch")
        now = int(time.time() * 1000)
        c.log_batch(rid, metrics=[Metric("acc", 0.5 + i / 100, now, i) for i in range(3)],
                    params=[Param("batch", "32")], tags=[RunTag("stage", "batch")])
        got = c.get_run(rid)
        history = [(m.step, m.value) for m in c.get_metric_history(rid, "loss")]
        with mlflow.start_run(run_name="worse"):
            mlflow.log_metric("auc", 0.7)
            mlflow.log_param("model", "lr")
        found = [r.info.run_name for r in mlflow.search_runs(["0"], "metrics.auc > 0.5", order_by=["metrics.auc DESC"],
                                                              output_format="list")]
        rf = [r.info.run_name for r in mlflow.search_runs(["0"], "params.model = 'rf' and tags.team = 'risk'",
                                                          output_format="list")]
        paged = c.search_runs(["0"], max_results=1)
        second = c.search_runs(["0"], max_results=1, page_token=paged.token)
        c.delete_run(rid)
        hidden = [r.info.run_id for r in c.search_runs(["0"])]
        deleted_stage = c.get_run(rid).info.lifecycle_stage
        c.restore_run(rid)
        errors = {}
        for label, call in (
                ("unknown", lambda: c.get_run("0123456789abcdef0123456789abcdef")),
                ("param-change", lambda: c.log_param(rid, "alpha", "0.9")),
                ("bad-filter", lambda: c.search_runs(["0"], "metrics.auc >>> 1"))):
            try:
                call()
            except mlflow.exceptions.MlflowException as e:
                errors[label] = [e.error_code, e.get_http_status_code()]
        print(json.dumps({
            "rid": rid, "exp": got.info.experiment_id, "name": got.info.run_name, "status": got.info.status,
            "stage": got.info.lifecycle_stage, "start": got.info.start_time, "end": got.info.end_time,
            "params": got.data.params, "metrics": got.data.metrics, "tags": got.data.tags, "history": history,
            "found": found, "rf": rf, "pages": [len(paged), bool(paged.token), [r.info.run_id for r in second]
                                              != [r.info.run_id for r in paged]],
            "hidden": rid in hidden, "deleted_stage": deleted_stage, "errors": errors,
            "artifact_uri": got.info.artifact_uri}))
    """)
    assert (out["exp"], out["name"], out["status"], out["stage"]) == ("0", "baseline", "FINISHED", "active")
    assert out["start"] <= out["end"]
    assert out["params"] == {"alpha": "0.5", "model": "rf", "depth": "4", "batch": "32"}
    assert out["metrics"]["auc"] == 0.91 and out["metrics"]["acc"] == 0.52
    assert out["tags"]["team"] == "risk" and "scratch" not in out["tags"] and out["tags"]["stage"] == "batch"
    assert out["history"] == [[s, 1.0 / (s + 1)] for s in range(5)]
    assert out["found"] == ["baseline", "worse"] and out["rf"] == ["baseline"]
    assert out["pages"] == [1, True, True]
    assert out["hidden"] is False and out["deleted_stage"] == "deleted"
    assert out["artifact_uri"] == f"mlflow-artifacts:/0/{out['rid']}/artifacts"
    assert out["errors"] == {"unknown": ["RESOURCE_DOES_NOT_EXIST", 404], "param-change": ["INVALID_PARAMETER_VALUE", 400],
                             "bad-filter": ["INVALID_PARAMETER_VALUE", 400]}

    ws = mlflow_server.workspace()
    run = ws.tracking.get_run(out["rid"])
    assert ws.tracking.get_experiment(run.experiment_id).name == "Default"
    assert (run.name, run.status, run.lifecycle) == ("baseline", "FINISHED", "active")
    assert run.params == out["params"] and run.metrics["f1"] == 0.8
    assert "mlflow.dataset.train-set" in run.tags and "training" in run.tags["mlflow.dataset.train-set"]
    assert [(m.step, m.value) for m in ws.tracking.get_metric_history(run.id, "acc")] == [(0, 0.5), (1, 0.51), (2, 0.52)]
    actions = [e.action for e in ws.audit.log(subject=f"run:{run.id}", limit=50)]
    assert {"run.create", "run.log_batch", "run.delete_tag", "run.end", "run.delete", "run.restore"} <= set(actions)
    assert all(e.actor == "admin" for e in ws.audit.log(subject=f"run:{run.id}", limit=50))


def test_sklearn_autolog_without_models_logs_params_metrics_and_inputs(mlflow_server: MlflowServer) -> None:
    out = mlflow_server.run("""
        import json, mlflow
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        mlflow.set_experiment("autolog")
        mlflow.sklearn.autolog(log_models=False)
        X, y = load_iris(return_X_y=True, as_frame=True)
        with mlflow.start_run() as run:
            LogisticRegression(max_iter=200, C=0.5).fit(X, y)
        print(json.dumps({"rid": run.info.run_id}))
    """)
    run = mlflow_server.workspace().tracking.get_run(out["rid"])
    assert run.params["C"] == "0.5" and run.params["max_iter"] == "200"
    assert 0.9 < run.metrics["training_accuracy_score"] <= 1.0
    assert run.tags["estimator_name"] == "LogisticRegression" and run.status == "FINISHED"
    assert any(k.startswith("mlflow.dataset.") for k in run.tags)


@pytest.mark.parametrize("mlflow_server", ["sqlite", "postgres"], indirect=True)
def test_nested_runs_renames_and_run_name_search(mlflow_server: MlflowServer) -> None:
    out = mlflow_server.run("""
        import json, mlflow
        from mlflow import MlflowClient
        mlflow.set_experiment("nested")
        with mlflow.start_run(run_name="parent") as parent:
            with mlflow.start_run(run_name="child", nested=True) as child:
                mlflow.log_metric("m", 1.0)
        c = MlflowClient()
        c.set_tag(child.info.run_id, "mlflow.runName", "child-renamed")
        c.update_run(parent.info.run_id, name="parent-renamed")
        exp = [mlflow.get_experiment_by_name("nested").experiment_id]
        by_name = [r.info.run_id for r in c.search_runs(exp, "attributes.run_name = 'child-renamed'")]
        by_tag = [r.info.run_id for r in c.search_runs(exp, "tags.mlflow.runName = 'parent-renamed'")]
        c.delete_run(child.info.run_id)
        try:
            c.log_metric(child.info.run_id, "m", 2.0)
            refused = None
        except mlflow.exceptions.MlflowException as e:
            refused = e.error_code
        print(json.dumps({"parent": parent.info.run_id, "child": child.info.run_id, "by_name": by_name,
                          "by_tag": by_tag, "refused": refused}))
    """)
    assert out["by_name"] == [out["child"]] and out["by_tag"] == [out["parent"]]
    assert out["refused"] == "INVALID_PARAMETER_VALUE"  # MLflow's answer for a deleted run
    ws = mlflow_server.workspace()
    child = ws.tracking.get_run(out["child"])
    assert (child.parent_id, child.name, child.lifecycle) == (out["parent"], "child-renamed", "deleted")
    assert ws.tracking.get_run(out["parent"]).name == "parent-renamed"
    assert [(m.step, m.value) for m in ws.tracking.get_metric_history(child.id, "m")] == [(0, 1.0)]
    assert [e.action for e in ws.audit.log(subject=f"run:{child.id}", action="run.rename")] == ["run.rename"]
