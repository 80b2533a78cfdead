"""Where MLflow's own server tests (scripts/mlflow_conformance.py) found Slipway answering
differently, checked with the real client: MLflow's words for bad fields, missing and deleted runs,
the ``Default`` experiment of a fresh server, experiment ordering, the bulk history endpoints,
REST ListArtifacts and registry tag deletion."""

from __future__ import annotations

import pytest

from tests.mlflow_compat.conftest import MlflowServer, logged_bundle_run

pytestmark = pytest.mark.slow


def test_runs_answer_in_mlflows_words(mlflow_server: MlflowServer) -> None:
    out = mlflow_server.run("""
        import json, os, mlflow, requests
        from mlflow import MlflowClient
        c = MlflowClient()
        url, headers = os.environ["MLFLOW_TRACKING_URI"], {"Authorization": "Bearer " + os.environ["MLFLOW_TRACKING_TOKEN"]}
        fresh = [e.name for e in c.search_experiments()]       # before anything was logged
        exp = c.create_experiment("words")
        rid = c.create_run(exp).info.run_id
        c.log_metric(rid, "m", 1.0, timestamp=789, step=2)
        def post(path, body):
            r = requests.post(url + "/api/2.0/mlflow" + path, json=body, headers=headers)
            return [r.status_code, r.json().get("error_code"), r.json().get("message")]
        def get(path, params):
            r = requests.get(url + path, params=params, headers=headers)
            return [r.status_code, r.json()]
        bad = {
            "step": post("/runs/log-metric", {"run_id": rid, "key": "k", "value": 1, "timestamp": 5, "step": "foo"}),
            "run_id_first": post("/runs/log-parameter", {"run_id": 31, "key": "p", "value": 41}),
            "value": post("/runs/set-tag", {"run_id": rid, "key": "t", "value": 41}),
            "no_timestamp": post("/runs/log-batch", {"run_id": rid, "metrics": [{"key": "mae", "value": 2.5}]}),
            "params": post("/runs/log-batch", {"run_id": rid, "params": "foo"}),
            "tags_first": post("/experiments/create", {"name": "x", "artifact_location": "loc", "tags": "5"}),
            "inputs_run_first": post("/runs/log-inputs", {"datasets": []}),
            "inputs_datasets": post("/runs/log-inputs", {"run_id": rid}),
        }
        errors = {}
        for label, call in (("missing_run", lambda: c.delete_tag("fake_run_id", "t")),
                            ("missing_tag", lambda: c.delete_tag(rid, "fakeTag"))):
            try:
                call()
            except mlflow.exceptions.MlflowException as e:
                errors[label] = [e.error_code, e.message]
        c.delete_run(rid)
        for label, call in (("deleted_tag", lambda: c.delete_tag(rid, "t")), ("deleted_log", lambda: c.log_param(rid, "p", "1"))):
            try:
                call()
            except mlflow.exceptions.MlflowException as e:
                errors[label] = [e.error_code, e.message]
        c.restore_run(rid)
        rid2 = c.create_run(exp).info.run_id
        for i, (ts, step, v) in enumerate([(1, 3, 11.0), (1, 2, 10.0), (2, 3, 12.0)]):
            c.log_metric(rid2, "a", v, timestamp=ts, step=step)
        bulk = get("/ajax-api/2.0/mlflow/metrics/get-history-bulk", {"run_id": [rid2, rid], "metric_key": "a"})
        bulk_bad = [get("/ajax-api/2.0/mlflow/metrics/get-history-bulk", {"metric_key": "a"})[1]["message"],
                    get("/ajax-api/2.0/mlflow/metrics/get-history-bulk", {"run_id": [rid]})[1]["message"],
                    get("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval", {"metric_key": "a"})[1]["message"],
                    get("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval", {"run_ids": [rid], "metric_key": ""})[1]["message"]]
        for ts in (1, 2):                                       # two values at every step
            c.log_batch(rid2, metrics=[mlflow.entities.Metric("s", 10.0, ts, step) for step in range(10)])
        same_steps = get("/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
                         {"run_ids": [rid2], "metric_key": "s", "max_results": 5})[1]["metrics"]
        for name in ("b", "Ab", "a"):
            c.create_experiment(name)
        by_name = [e.name for e in c.search_experiments(order_by=["name DESC"])]
        newest = [e.name for e in c.search_experiments(max_results=2)]
        attr = [e.name for e in c.search_experiments(filter_string="attribute.name != 'a'")]
        with open("f.txt", "w") as f:
            f.write("hello")
        c.log_artifact(rid2, "f.txt", "dir")
        listed = [get("/api/2.0/mlflow/artifacts/list", {"run_id": rid2}), get("/api/2.0/mlflow/artifacts/list", {"run_id": rid2, "path": "dir"}),
                  get("/api/2.0/mlflow/artifacts/list", {"run_id": rid2, "path": "../x"})]
        print(json.dumps({"fresh": fresh, "rid": rid, "rid2": rid2, "exp": exp, "bad": bad, "errors": errors, "bulk": bulk,
                          "bulk_bad": bulk_bad, "same_steps": same_steps, "by_name": by_name, "newest": newest, "attr": attr, "listed": listed}))
    """)
    rid, rid2 = out["rid"], out["rid2"]
    assert out["fresh"] == ["Default"]
    invalid = "INVALID_PARAMETER_VALUE"
    assert out["bad"] == {
        "step": [400, invalid, "Invalid value \"foo\" for parameter 'step' supplied"],
        "run_id_first": [400, invalid, "Invalid value 31 for parameter 'run_id' supplied"],
        "value": [400, invalid, "Invalid value 41 for parameter 'value' supplied"],
        "no_timestamp": [400, invalid, "Invalid value [{\"key\":\"mae\",\"value\":2.5}] for parameter 'metrics' supplied"],
        "params": [400, invalid, "Invalid value \"foo\" for parameter 'params' supplied"],
        "tags_first": [400, invalid, "Invalid value \"5\" for parameter 'tags' supplied"],
        "inputs_run_first": [400, invalid, "Missing value for required parameter 'run_id'"],
        "inputs_datasets": [400, invalid, "Missing value for required parameter 'datasets'"],
    }
    deleted = f"The run {rid} must be in the 'active' state. Current state is deleted."
    expected = {"missing_run": ("RESOURCE_DOES_NOT_EXIST", "Run with id=fake_run_id not found"),
                "missing_tag": ("RESOURCE_DOES_NOT_EXIST", f"No tag with name: fakeTag in run with id {rid}"),
                "deleted_tag": (invalid, deleted), "deleted_log": (invalid, deleted)}
    assert out["errors"].keys() == expected.keys()
    for label, (code, words) in expected.items():  # the client prefixes the code and may add hints
        assert out["errors"][label][0] == code and words in out["errors"][label][1], label
    # each run's points by step, then time
    assert out["bulk"] == [200, {"metrics": [
        {"key": "a", "value": v, "timestamp": ts, "step": step, "run_id": rid2}
        for ts, step, v in [(1, 2, 10.0), (1, 3, 11.0), (2, 3, 12.0)]]}]
    assert out["bulk_bad"] == ["GetMetricHistoryBulk request must specify at least one run_id.",
                               "GetMetricHistoryBulk request must specify a metric_key.",
                               "Missing value for required parameter 'run_ids'.",
                               "Missing value for required parameter 'metric_key'."]
    # MLflow's sampling of steps 0-9 to 5 keeps 0, 2, 4, 6, 8, 9, and every value at each of them
    assert [(p["step"], p["timestamp"]) for p in out["same_steps"]] == [(s, t) for s in (0, 2, 4, 6, 8, 9) for t in (1, 2)]
    assert out["by_name"] == ["words", "b", "a", "Default", "Ab"]  # byte order, as MLflow's store sorts
    assert out["newest"] == ["a", "Ab"]
    assert out["attr"] == ["Ab", "b", "words", "Default"]
    root = f"mlflow-artifacts:/{out['exp']}/{rid2}/artifacts"
    assert out["listed"] == [
        [200, {"root_uri": root, "files": [{"path": "dir", "is_dir": True}]}],
        [200, {"root_uri": root, "files": [{"path": "dir/f.txt", "is_dir": False, "file_size": 5}]}],
        [400, {"error_code": invalid, "message": "Invalid path"}]]


def test_registry_tags_are_deleted_through_mlflow(mlflow_server: MlflowServer) -> None:
    ws = mlflow_server.workspace()
    run = logged_bundle_run(mlflow_server)
    out = mlflow_server.run(f"""
        import json, mlflow
        from mlflow import MlflowClient
        c = MlflowClient()
        c.create_registered_model("tagged", tags={{"keep": "1", "drop": "2"}})
        mv = c.create_model_version("tagged", "runs:/{run.id}/model", run_id="{run.id}", tags={{"a": "1", "b": "2"}})
        c.delete_registered_model_tag("tagged", "drop")
        c.delete_registered_model_tag("tagged", "never-set")          # MLflow ignores a missing key
        c.delete_model_version_tag("tagged", mv.version, "a")
        try:
            c.delete_registered_model_tag("tagged", "slipway.project")
            refused = None
        except mlflow.exceptions.MlflowException as e:
            refused = e.error_code
        print(json.dumps({{"model": c.get_registered_model("tagged").tags, "version": c.get_model_version("tagged", mv.version).tags,
                          "refused": refused}}))
    """)
    assert out["model"] == {"keep": "1", "slipway.project": "default"}
    assert out["version"] == {"b": "2"}
    assert out["refused"] == "INVALID_PARAMETER_VALUE"
    events = ws.audit.log(subject="registered_model:tagged", action="registry.update_model")
    assert [e.details.get("untag") for e in events] == [["drop"]]


def test_experiment_and_run_names_are_free_text_as_in_mlflows_quickstart(mlflow_server: MlflowServer) -> None:
    """MLflow's tracking quickstart names its experiment "MLflow Quickstart": names with spaces,
    slashes and brackets work as in MLflow and search finds them; a control character is refused
    with MLflow's INVALID_PARAMETER_VALUE and nothing is created."""
    out = mlflow_server.run("""
        import json, mlflow
        from mlflow import MlflowClient
        exp = mlflow.set_experiment("MLflow Quickstart")
        with mlflow.start_run(run_name="Run A Lot (parent_run_id=None)") as run:
            mlflow.log_param("solver", "lbfgs")
        c = MlflowClient()
        other = c.create_experiment("/Users/me/churn model")
        found = c.search_runs([exp.experiment_id], "attributes.run_name = 'Run A Lot (parent_run_id=None)'")
        try:
            c.create_experiment("two\\nlines")
            refused = None
        except mlflow.exceptions.MlflowException as e:
            refused = e.error_code
        late = c.create_run(other, start_time=2_000_000_000_000).info.run_id   # the client's start_time is kept
        early = c.create_run(other, start_time=1_000_000_000_000).info.run_id
        ordered = [r.info.run_id for r in c.search_runs([other], order_by=["attributes.start_time ASC"])]
        print(json.dumps({"exp": c.get_experiment(exp.experiment_id).name, "other": c.get_experiment(other).name,
                          "starts": [c.get_run(early).info.start_time, c.get_run(late).info.start_time],
                          "ordered": ordered == [early, late],
                          "found": [r.info.run_name for r in found], "run": run.info.run_id, "refused": refused,
                          "names": sorted(e.name for e in c.search_experiments())}))
    """)
    assert out["exp"] == "MLflow Quickstart" and out["other"] == "/Users/me/churn model"
    assert out["found"] == ["Run A Lot (parent_run_id=None)"] and out["refused"] == "INVALID_PARAMETER_VALUE"
    assert "two\nlines" not in out["names"]
    assert out["starts"] == [1_000_000_000_000, 2_000_000_000_000] and out["ordered"]
    ws = mlflow_server.workspace()
    assert ws.tracking.get_run(out["run"]).name == "Run A Lot (parent_run_id=None)"
    assert [e.name for e in ws.tracking.list_experiments() if e.name.startswith("MLflow")] == ["MLflow Quickstart"]
