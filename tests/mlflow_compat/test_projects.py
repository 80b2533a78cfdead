"""Projects through the MLflow API: a user bound in ``fraud`` only creates experiments and models
there (the tag ``slipway.project``, the ``X-Slipway-Project`` header, or its one bound project),
searches see only what it may read (pages included), and every read or write of ``credit``'s
experiments, runs, artifacts and models fails with MLflow's PERMISSION_DENIED (403) naming the
permission and the project; a global admin sees both teams."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.mlflow_compat.conftest import MlflowServer

pytestmark = pytest.mark.slow

ALICE_SCRIPT = """
    import json, mlflow
    from mlflow import MlflowClient
    c = MlflowClient()
    CREDIT_EXP, CREDIT_RUN = "{credit_exp}", "{credit_run}"
    def refused(call):
        try:
            call()
        except mlflow.exceptions.MlflowException as e:
            return [e.error_code, e.get_http_status_code(), e.message]
        return "allowed"
    out = {{}}
    a = c.create_experiment("fraud-a")  # alice's only project: fraud
    c.create_experiment("fraud-b", tags={{"slipway.project": "fraud"}})
    out["tag"] = c.get_experiment(a).tags.get("slipway.project")
    first = c.search_experiments(max_results=1)
    second = c.search_experiments(max_results=1, page_token=first.token)
    out["pages"] = [[e.name for e in first], [e.name for e in second], second.token]
    out["experiments"] = sorted(e.name for e in c.search_experiments())
    out["refused"] = {{
        "create": refused(lambda: c.create_experiment("sneaky", tags={{"slipway.project": "credit"}})),
        "get": refused(lambda: c.get_experiment(CREDIT_EXP)),
        "by_name": refused(lambda: c.get_experiment_by_name("credit-exp")),
        "rename": refused(lambda: c.rename_experiment(CREDIT_EXP, "mine")),
        "delete": refused(lambda: c.delete_experiment(CREDIT_EXP)),
        "get_run": refused(lambda: c.get_run(CREDIT_RUN)),
        "log": refused(lambda: c.log_metric(CREDIT_RUN, "m", 1.0)),
        "terminate": refused(lambda: c.set_terminated(CREDIT_RUN)),
        "history": refused(lambda: c.get_metric_history(CREDIT_RUN, "auc")),
        "artifacts": refused(lambda: c.list_artifacts(CREDIT_RUN)),
        "model": refused(lambda: c.get_registered_model("credit-model")),
        "model_tag": refused(lambda: c.set_registered_model_tag("credit-model", "k", "v")),
        "new_model": refused(lambda: c.create_registered_model("sneaky", tags={{"slipway.project": "credit"}})),
    }}
    mlflow.set_experiment("fraud-a")
    open("f.txt", "w").write("fraud")
    with mlflow.start_run() as run:
        mlflow.log_metric("auc", 0.9, step=1)
        mlflow.log_artifact("f.txt")
    rid = run.info.run_id
    out["history"] = [m.value for m in c.get_metric_history(rid, "auc")]
    out["files"] = [f.path for f in c.list_artifacts(rid)]
    out["runs"] = [r.info.run_id for r in c.search_runs([a, CREDIT_EXP])]  # credit's left out
    out["credit_runs"] = len(c.search_runs([CREDIT_EXP]))
    c.create_registered_model("fraud-model")
    c.create_registered_model("fraud-model-2")
    out["model_tags"] = c.get_registered_model("fraud-model").tags
    tagged = c.search_registered_models(filter_string="tags.`slipway.project` = 'fraud' AND name LIKE '%-2'")
    out["by_project"] = [m.name for m in tagged]
    first = c.search_registered_models(max_results=1)
    second = c.search_registered_models(max_results=1, page_token=first.token)
    out["model_pages"] = [[m.name for m in first], [m.name for m in second], second.token]
    out["refused"]["version"] = refused(lambda: c.create_model_version("credit-model", f"runs:/{{rid}}/model", rid))
    print(json.dumps({{**out, "rid": rid}}))
"""

ADMIN_SCRIPT = """
    import json
    from mlflow import MlflowClient
    c = MlflowClient()
    print(json.dumps({"experiments": sorted(e.name for e in c.search_experiments()),
                      "models": sorted(m.name for m in c.search_registered_models())}))
"""


def _bank(server: MlflowServer) -> dict[str, Any]:
    """Projects fraud and credit; credit owns an experiment with a running run and a model;
    alice is a developer in fraud only, bob in both."""
    admin = server.workspace()
    for name in ("fraud", "credit"):
        admin.identity.create_project(name)
    experiment = admin.tracking.create_experiment("credit-exp", project="credit")
    run = admin.tracking.start_run("credit-train", experiment="credit-exp")
    admin.tracking.log_batch(run.id, [("auc", 0.7, 0, 1)])
    admin.registry.create_model("credit-model", project="credit")
    tokens = {}
    for user, projects in (("alice", ["fraud"]), ("bob", ["fraud", "credit"])):
        admin.identity.create_user(user, [])
        for project in projects:
            admin.identity.bind(user, "developer", project)
        tokens[user] = admin.identity.create_token(user, "mlflow").token
    return {"admin": admin, "experiment": experiment.id, "run": run.id, "tokens": tokens}


def test_a_fraud_user_works_in_fraud_and_is_refused_credit(mlflow_server: MlflowServer) -> None:
    bank = _bank(mlflow_server)
    out = mlflow_server.run(
        ALICE_SCRIPT.format(credit_exp=bank["experiment"], credit_run=bank["run"]),
        token=bank["tokens"]["alice"],
    )
    assert out["tag"] == "fraud"
    assert out["experiments"] == ["fraud-a", "fraud-b"]  # credit-exp (and Default, in default) hidden
    assert sorted(out["pages"][0] + out["pages"][1]) == ["fraud-a", "fraud-b"] and len(out["pages"][0]) == 1
    assert out["pages"][2] is None
    for label, refusal in out["refused"].items():
        assert refusal != "allowed", label
        code, status, message = refusal
        assert (code, status) == ("PERMISSION_DENIED", 403), (label, refusal)
        assert "alice" in message and "in project 'credit'" in message, (label, message)
    assert "'tracking.write'" in out["refused"]["log"][2] and "'read'" in out["refused"]["get_run"][2]
    assert "'registry.write'" in out["refused"]["new_model"][2]
    assert out["history"] == [0.9] and out["files"] == ["f.txt"]
    assert out["runs"] == [out["rid"]] and out["credit_runs"] == 0
    assert out["model_tags"] == {"slipway.project": "fraud"} and out["by_project"] == ["fraud-model-2"]
    assert sorted(out["model_pages"][0] + out["model_pages"][1]) == ["fraud-model", "fraud-model-2"]
    assert len(out["model_pages"][0]) == 1 and not out["model_pages"][2]

    admin = bank["admin"]
    assert {admin.tracking.get_experiment(n).project for n in ("fraud-a", "fraud-b")} == {"fraud"}
    assert admin.registry.get_model("fraud-model").project == "fraud"
    credit_run = admin.tracking.get_run(bank["run"])  # untouched
    assert (credit_run.status, credit_run.metrics, credit_run.name) == (
        "RUNNING",
        {"auc": 0.7},
        "credit-train",
    )
    assert admin.tracking.get_experiment(bank["experiment"]).name == "credit-exp"
    assert [m.name for m in admin.registry.list_models() if m.name == "sneaky"] == []
    assert admin.registry.get_model("credit-model").tags == {}

    everything = mlflow_server.run(ADMIN_SCRIPT)  # a global admin sees both teams
    assert {"credit-exp", "fraud-a", "fraud-b"} <= set(everything["experiments"])
    assert everything["models"] == ["credit-model", "fraud-model", "fraud-model-2"]


def test_artifact_upload_and_creation_project_over_raw_http(mlflow_server: MlflowServer) -> None:
    bank = _bank(mlflow_server)
    api = f"{mlflow_server.url}/api/2.0/mlflow"
    alice = {"Authorization": f"Bearer {bank['tokens']['alice']}"}
    upload = httpx.put(
        f"{mlflow_server.url}/api/2.0/mlflow-artifacts/artifacts/{bank['experiment']}/{bank['run']}"
        "/artifacts/stolen.txt",
        content=b"x",
        headers=alice,
    )
    assert upload.status_code == 403, upload.text
    assert (
        upload.json()["error_code"] == "PERMISSION_DENIED"
        and "in project 'credit'" in upload.json()["message"]
    )
    assert bank["admin"].tracking.list_artifacts(bank["run"]) == []
    # bob is bound in two projects: without a tag or header his experiment goes to the workspace's
    # project (default), where he holds nothing; the header picks one of his.
    bob = {"Authorization": f"Bearer {bank['tokens']['bob']}"}
    unplaced = httpx.post(f"{api}/experiments/create", json={"name": "bob-exp"}, headers=bob)
    assert unplaced.status_code == 403 and "in project 'default'" in unplaced.json()["message"]
    placed = httpx.post(
        f"{api}/experiments/create", json={"name": "bob-exp"}, headers={**bob, "X-Slipway-Project": "credit"}
    )
    assert placed.status_code == 200, placed.text
    got = httpx.get(
        f"{api}/experiments/get-by-name", params={"experiment_name": "bob-exp"}, headers=bob
    ).json()
    assert {"key": "slipway.project", "value": "credit"} in got["experiment"]["tags"]
    moved = httpx.post(
        f"{api}/experiments/set-experiment-tag",
        headers=bob,
        json={
            "experiment_id": got["experiment"]["experiment_id"],
            "key": "slipway.project",
            "value": "fraud",
        },
    )
    assert moved.status_code == 400 and "cannot change" in moved.json()["message"]
    model = httpx.post(
        f"{api}/registered-models/create",
        json={"name": "bob-model"},
        headers={**bob, "X-Slipway-Project": "fraud"},
    )
    assert model.status_code == 200 and bank["admin"].registry.get_model("bob-model").project == "fraud"
