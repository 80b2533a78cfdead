"""MLflow's artifact proxy over Slipway blobs, path checks, roles and MLflow-shaped errors."""

from __future__ import annotations

import httpx
import pytest

from tests.mlflow_compat.conftest import MlflowServer

pytestmark = pytest.mark.slow


def test_artifacts_logged_through_mlflow_are_run_artifacts(mlflow_server: MlflowServer) -> None:
    out = mlflow_server.run("""
        import json, os, mlflow
        from mlflow import MlflowClient
        os.makedirs("plots/deep", exist_ok=True)
        open("report.txt", "w").write("accuracy 0.93")
        open("plots/a.csv", "w").write("x,y\\n1,2\\n")
        open("plots/deep/b.txt", "w").write("bee")
        mlflow.set_experiment("artifacts")
        with mlflow.start_run() as run:
            mlflow.log_artifact("report.txt")
            mlflow.log_artifacts("plots", artifact_path="plots")
            mlflow.log_text("hello", "notes/hello.txt")
        c = MlflowClient()
        rid = run.info.run_id
        top = sorted((f.path, f.is_dir, f.file_size) for f in c.list_artifacts(rid))
        plots = sorted((f.path, f.is_dir) for f in c.list_artifacts(rid, "plots"))
        local = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="plots/deep/b.txt")
        whole = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="plots")
        print(json.dumps({"rid": rid, "top": top, "plots": plots, "b": open(local).read(),
                          "tree": sorted(os.path.relpath(os.path.join(d, f), whole) for d, _, fs in os.walk(whole) for f in fs),
                          "text": mlflow.artifacts.load_text(f"runs:/{rid}/notes/hello.txt")}))
    """)
    assert out["top"] == [["notes", True, None], ["plots", True, None], ["report.txt", False, 13]]
    assert out["plots"] == [["plots/a.csv", False], ["plots/deep", True]]
    assert out["b"] == "bee" and out["text"] == "hello"
    assert out["tree"] == ["a.csv", "deep/b.txt"]
    ws = mlflow_server.workspace()
    stored = {a.path: a for a in ws.tracking.list_artifacts(out["rid"])}
    assert set(stored) == {"report.txt", "plots/a.csv", "plots/deep/b.txt", "notes/hello.txt"}
    assert ws.blobs.read_bytes(stored["report.txt"].digest) == b"accuracy 0.93"
    logged = [e.details["path"] for e in ws.audit.log(subject=f"run:{out['rid']}", action="run.log_artifact")]
    assert sorted(logged) == sorted(stored)


def test_bad_paths_and_requests_get_mlflow_errors_and_change_nothing(mlflow_server: MlflowServer) -> None:
    ws = mlflow_server.workspace()
    run = ws.tracking.start_run(experiment="paths")
    ws.tracking.end_run(run.id)
    headers = {"Authorization": f"Bearer {mlflow_server.token}"}
    base = f"{mlflow_server.url}/api/2.0/mlflow-artifacts/artifacts"
    # Dots percent-encoded: httpx would otherwise normalise them away before sending.
    for bad in (f"x/{run.id}/artifacts/%2E%2E/%2E%2E/etc/passwd", f"x/{run.id}/artifacts/a/%2E/b", f"x/{run.id}/other/f",
                f"x/{run.id}/artifacts/a%5Cb"):
        answer = httpx.put(f"{base}/{bad}", content=b"evil", headers=headers)
        assert answer.status_code == 400, bad
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    listed = httpx.get(base, params={"path": f"x/{run.id}/artifacts/../../x"}, headers=headers)
    assert listed.status_code == 400 and listed.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    missing = httpx.get(f"{base}/x/{run.id}/artifacts/nothing.txt", headers=headers)
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert ws.tracking.list_artifacts(run.id) == []

    api = f"{mlflow_server.url}/api/2.0/mlflow"
    too_many = {"run_id": run.id, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]}
    for method, path, body in (("POST", "/runs/log-batch", too_many), ("POST", "/runs/create", b"{not json"),
                               ("POST", "/runs/log-metric", {"run_id": run.id, "key": "m"}),
                               ("GET", "/runs/get", None)):
        kwargs = {"content": body} if isinstance(body, bytes) else {"json": body} if body else {}
        answer = httpx.request(method, api + path, headers=headers, **kwargs)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    unknown = httpx.post(f"{api}/traces/start", json={}, headers=headers)
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    alias = httpx.get(f"{mlflow_server.url}/ajax-api/2.0/mlflow/runs/get", params={"run_id": run.id}, headers=headers)
    assert alias.status_code == 200 and alias.json()["run"]["info"]["run_id"] == run.id
    assert ws.tracking.get_run(run.id).params == {}


def test_a_viewer_token_reads_but_cannot_write(mlflow_server: MlflowServer) -> None:
    admin = mlflow_server.workspace()
    admin.identity.create_user("vera", ["viewer"])
    viewer = admin.identity.create_token("vera", "test").token
    run = admin.tracking.start_run(experiment="guarded")
    out = mlflow_server.run(f"""
        import json, mlflow
        from mlflow import MlflowClient
        c = MlflowClient()
        seen = c.get_run("{run.id}").info.run_id
        errors = {{}}
        for label, call in (("param", lambda: c.log_param("{run.id}", "a", "1")),
                            ("experiment", lambda: c.create_experiment("vandal")),
                            ("delete", lambda: c.delete_run("{run.id}")),
                            ("model", lambda: c.create_registered_model("vandal"))):
            try:
                call()
            except mlflow.exceptions.MlflowException as e:
                errors[label] = [e.error_code, e.get_http_status_code(), "vera" in e.message]
        print(json.dumps({{"seen": seen, "errors": errors}}))
    """, token=viewer)
    assert out["seen"] == run.id
    assert out["errors"] == {k: ["PERMISSION_DENIED", 403, True] for k in ("param", "experiment", "delete", "model")}
    upload = httpx.put(f"{mlflow_server.url}/api/2.0/mlflow-artifacts/artifacts/x/{run.id}/artifacts/f.txt",
                       content=b"data", headers={"Authorization": f"Bearer {viewer}"})
    assert upload.status_code == 403 and upload.json()["error_code"] == "PERMISSION_DENIED"
    anonymous = httpx.get(f"{mlflow_server.url}/api/2.0/mlflow/runs/get", params={"run_id": run.id})
    assert anonymous.status_code == 401 and anonymous.json()["error_code"] == "UNAUTHENTICATED"
    stored = admin.tracking.get_run(run.id)
    assert stored.params == {} and stored.lifecycle == "active" and admin.tracking.list_artifacts(run.id) == []
    assert [e.name for e in admin.tracking.list_experiments() if e.name == "vandal"] == []
