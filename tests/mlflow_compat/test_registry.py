"""MLflow's model registry calls over Slipway's registry: versions of Slipway-logged bundles,
aliases under Slipway's governance, and clear refusals for what Slipway does not do."""

from __future__ import annotations

import pytest

from tests.mlflow_compat.conftest import MlflowServer, logged_bundle_run

pytestmark = pytest.mark.slow


def test_mlflow_client_registers_and_aliases_a_slipway_bundle(mlflow_server: MlflowServer) -> None:
    ws = mlflow_server.workspace()
    run = logged_bundle_run(mlflow_server)
    out = mlflow_server.run(f"""
        import json, os, mlflow
        from mlflow import MlflowClient
        c = MlflowClient()
        c.create_registered_model("churn", tags={{"team": "risk"}}, description="churn model")
        # mlflow.register_model needs an MLmodel file; a Slipway bundle is registered by the client call
        mv = c.create_model_version("churn", f"runs:/{run.id}/model", run_id="{run.id}")
        c.set_registered_model_alias("churn", "challenger", mv.version)
        c.set_model_version_tag("churn", mv.version, "checked", "yes")
        by_alias = c.get_model_version_by_alias("churn", "challenger")
        model = c.get_registered_model("churn")
        listed = [m.name for m in c.search_registered_models(filter_string="name LIKE 'ch%'")]
        versions = [v.version for v in c.search_model_versions("name='churn'")]
        local = mlflow.artifacts.download_artifacts("models:/churn@challenger")
        errors = {{}}
        for label, call in (("stage", lambda: c.transition_model_version_stage("churn", mv.version, "Production")),
                            ("protected", lambda: c.set_registered_model_alias("churn", "champion", mv.version)),
                            ("unknown", lambda: c.get_model_version_by_alias("churn", "nope")),
                            ("delete", lambda: c.delete_registered_model("churn"))):
            try:
                call()
            except mlflow.exceptions.MlflowException as e:
                errors[label] = [e.error_code, e.get_http_status_code()]
        c.delete_registered_model_alias("churn", "challenger")
        print(json.dumps({{"version": mv.version, "alias_version": by_alias.version, "run_id": by_alias.run_id,
                          "aliases": model.aliases, "tags": model.tags, "description": model.description,
                          "listed": listed, "versions": versions, "files": sorted(os.listdir(local)),
                          "errors": errors, "source": by_alias.source}}))
    """)
    assert out["version"] == "1" and out["alias_version"] == "1" and out["run_id"] == run.id
    assert out["aliases"] == {"challenger": "1"} and out["tags"] == {"team": "risk", "slipway.project": "default"}
    assert out["description"] == "churn model" and out["listed"] == ["churn"] and out["versions"] == ["1"]
    assert "slipway-model.json" in out["files"]
    assert out["source"].startswith("mlflow-artifacts:/") and out["source"].endswith(f"{run.id}/artifacts/model")
    assert out["errors"] == {"stage": ["NOT_IMPLEMENTED", 501], "protected": ["RESOURCE_CONFLICT", 409],
                             "unknown": ["RESOURCE_DOES_NOT_EXIST", 404], "delete": ["NOT_IMPLEMENTED", 501]}
    version = ws.registry.get_version("churn", 1)
    assert (version.run_id, version.tags, version.aliases) == (run.id, {"checked": "yes"}, [])
    assert ws.registry.get_model("churn").tags == {"team": "risk"}
    actions = {e.action for e in ws.audit.log(action="registry.*", limit=50)}
    assert {"registry.create_model", "registry.register_version", "registry.update_version", "registry.set_alias",
            "registry.delete_alias"} <= actions
