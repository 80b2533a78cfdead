"""The registry's REST reads under /api/v1/models, over a real server on a loopback socket."""

from __future__ import annotations

from pathlib import Path

import httpx

import slipway
from slipway.workspace import open_workspace, set_default
from tests.models.ai4i import ai4i, fitted_pipeline
from tests.support import make_settings, platform_server


def test_models_rest_reads(home: Path) -> None:
    with platform_server(make_settings(home / "server")) as (url, token):
        ws = open_workspace(make_settings(home / "client", server_url=url, token=token))
        set_default(ws)
        try:
            X, _ = ai4i()
            with slipway.start_run("rest"):
                slipway.log_model(fitted_pipeline(), input_example=X.head(3), registered_model_name="maint")
            ws.registry.set_alias("maint", "challenger", 1)
        finally:
            ws.close()
            set_default(None)
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
        models = client.get("/api/v1/models").json()
        assert [(m["name"], m["latest_version"], m["aliases"]) for m in models] == [("maint", 1, {"challenger": 1})]
        assert client.get("/api/v1/models", params={"name": "nope*"}).json() == []
        assert client.get("/api/v1/models/maint").json()["name"] == "maint"
        versions = client.get("/api/v1/models/maint/versions").json()
        assert [v["version"] for v in versions] == [1] and versions[0]["flavor"] == "sklearn"
        assert client.get("/api/v1/models/maint/versions/1").json()["aliases"] == ["challenger"]
        assert client.get("/api/v1/models/maint/aliases/challenger").json()["version"] == 1
        missing = client.get("/api/v1/models/maint/versions/9")
        assert missing.status_code == 404 and "no version 9" in missing.json()["error"]["message"]
        bad = client.get("/api/v1/models/maint/versions/zero")
        assert bad.status_code == 422
        assert httpx.get(f"{url}/api/v1/models").status_code == 401
