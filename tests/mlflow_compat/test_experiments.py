"""MLflow experiments through the real client, checked through Slipway's own API."""

from __future__ import annotations

import pytest

from tests.mlflow_compat.conftest import MlflowServer

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mlflow_server", ["sqlite", "postgres"], indirect=True)
def test_experiment_lifecycle_is_a_slipway_experiment(mlflow_server: MlflowServer) -> None:
    out = mlflow_server.run("""
        import json, mlflow
        from mlflow import MlflowClient
        from mlflow.entities import ViewType
        c = MlflowClient()
        eid = c.create_experiment("churn", tags={"mlflow.note.content": "churn models"})
        by_name = c.get_experiment_by_name("churn")
        missing = c.get_experiment_by_name("nope")
        c.rename_experiment(eid, "churn-v2")
        c.delete_experiment(eid)
        active = [e.name for e in c.search_experiments()]
        deleted = [e.name for e in c.search_experiments(view_type=ViewType.DELETED_ONLY)]
        c.restore_experiment(eid)
        c.set_experiment_tag(eid, "mlflow.note.content", "renamed")
        got = c.get_experiment(eid)
        liked = [e.name for e in c.search_experiments(filter_string="name LIKE 'churn%'")]
        errors = {}
        for label, call in (("dup", lambda: c.create_experiment("churn-v2")),
                            ("unknown", lambda: c.get_experiment("0123456789abcdef0123456789abcdef")),
                            ("tag", lambda: c.set_experiment_tag(eid, "bad\\nkey", "x")),
                            ("no_tag", lambda: c.delete_experiment_tag(eid, "never-set"))):
            try:
                call()
            except mlflow.exceptions.MlflowException as e:
                errors[label] = [e.error_code, e.get_http_status_code()]
        other = c.create_experiment("retention", tags={"team": "growth", "stage": "pilot"})
        c.set_experiment_tag(eid, "team", "risk")
        c.set_experiment_tag(eid, "team", "fraud")     # replaces
        c.set_experiment_tag(eid, "review", "2026-Q4")
        c.delete_experiment_tag(eid, "review")
        tagged = {e.name: {k: v for k, v in e.tags.items() if k in ("team", "stage", "review")}
                  for e in c.search_experiments()}
        by_tag = {f: [e.name for e in c.search_experiments(filter_string=f)]
                  for f in ("tags.team = 'fraud'", "tags.`team` LIKE '%o%'", "name LIKE 'r%' AND tags.stage != 'ga'",
                            "tags.stage = 'pilot' AND tags.team = 'fraud'")}
        print(json.dumps({"eid": eid, "by_name": by_name.experiment_id, "missing": missing, "active": active,
                          "tagged": tagged, "by_tag": by_tag, "other_tags": c.get_experiment(other).tags,
                          "deleted": deleted, "name": got.name, "stage": got.lifecycle_stage,
                          "note": got.tags.get("mlflow.note.content"), "liked": liked, "errors": errors}))
    """)
    assert out["by_name"] == out["eid"] and out["missing"] is None
    assert "churn-v2" not in out["active"] and out["deleted"] == ["churn-v2"]
    assert (out["name"], out["stage"], out["note"], out["liked"]) == ("churn-v2", "active", "renamed", ["churn-v2"])
    assert out["errors"] == {"dup": ["RESOURCE_ALREADY_EXISTS", 400], "unknown": ["RESOURCE_DOES_NOT_EXIST", 404],
                             "tag": ["INVALID_PARAMETER_VALUE", 400], "no_tag": ["RESOURCE_DOES_NOT_EXIST", 404]}
    assert out["tagged"]["churn-v2"] == {"team": "fraud"}
    assert out["tagged"]["retention"] == {"team": "growth", "stage": "pilot"}
    assert out["other_tags"]["team"] == "growth"
    assert out["by_tag"] == {"tags.team = 'fraud'": ["churn-v2"], "tags.`team` LIKE '%o%'": ["retention"],
                             "name LIKE 'r%' AND tags.stage != 'ga'": ["retention"],
                             "tags.stage = 'pilot' AND tags.team = 'fraud'": []}
    ws = mlflow_server.workspace()
    experiment = ws.tracking.get_experiment(out["eid"])
    assert (experiment.name, experiment.description, experiment.lifecycle) == ("churn-v2", "renamed", "active")
    actions = [e.action for e in ws.audit.log(subject=f"experiment:{out['eid']}", limit=20)]
    assert {"experiment.create", "experiment.rename", "experiment.delete", "experiment.restore",
            "experiment.describe", "experiment.set_tag", "experiment.delete_tag"} <= set(actions)
    assert ws.audit.verify().ok
