"""Remote mode's security and error contract: tokens, roles, 4xx JSON bodies, nothing changed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from slipway.core.errors import InvalidInput, PermissionDenied, Unauthenticated
from slipway.workspace import open_workspace
from tests.support import make_settings, platform_server


def test_tokens_roles_and_error_bodies(home: Path) -> None:
    with platform_server(make_settings(home / "server")) as (url, admin_token):
        admin = open_workspace(make_settings(home / "admin", server_url=url, token=admin_token))
        identity = admin.backend("identity")
        identity.create_user("vera", ["viewer"])
        viewer_token = identity.create_token("vera").token
        with admin.tracking.start_run("seed", experiment="remote") as run:
            admin.tracking.log_params({"model": "rf"})
        events_before = len(admin.audit.log(limit=1000))

        wrong = open_workspace(make_settings(home / "wrong", server_url=url, token="slw_not-a-real-token"))
        with pytest.raises(Unauthenticated):
            wrong.tracking.list_experiments()
        with pytest.raises(Unauthenticated):
            open_workspace(make_settings(home / "none", server_url=url)).tracking.get_run(run.id)

        viewer = open_workspace(make_settings(home / "viewer", server_url=url, token=viewer_token))
        assert viewer.tracking.get_run(run.id).params == {"model": "rf"}  # reading is allowed
        assert [r.id for r in viewer.tracking.search_runs("params.model = 'rf'").runs] == [run.id]
        with pytest.raises(PermissionDenied, match="vera"):
            viewer.tracking.create_experiment("not-allowed")
        with pytest.raises(PermissionDenied):
            viewer.tracking.delete_run(run.id)
        with pytest.raises(PermissionDenied):
            viewer.tracking.log_batch(run.id, metrics=[("m", 1.0, 0, 1)])

        # The raw HTTP contract: a 4xx JSON body naming the error type and the offending value.
        response = httpx.post(f"{url}/api/v1/tracking/search_runs", json={"filter": "metrics.auc >> 1"},
                              headers={"Authorization": f"Bearer {admin_token}"})
        assert response.status_code == 422
        assert response.json()["error"]["type"] == "InvalidInput"
        assert "position 13" in response.json()["error"]["message"]
        response = httpx.post(f"{url}/api/v1/tracking/delete_run", json={"run_id": run.id})
        assert response.status_code == 401 and response.json()["error"]["type"] == "Unauthenticated"
        response = httpx.post(f"{url}/api/v1/tracking/get_run", json={"run_id": run.id, "surprise": 1},
                              headers={"Authorization": f"Bearer {admin_token}"})
        assert response.status_code == 422
        with pytest.raises(InvalidInput):
            admin.tracking.search_runs("params.model = 'rf'", page_token="garbage!")

        assert len(admin.audit.log(limit=1000)) == events_before  # nothing above changed anything
        assert admin.tracking.get_run(run.id).lifecycle == "active"
        assert [e.name for e in admin.tracking.list_experiments()] == ["remote"]
        for ws in (admin, wrong, viewer):
            ws.close()


def test_embedded_viewer_is_refused_too(home: Path) -> None:
    # Roles are checked in the backend, so embedded mode enforces them the same way.
    ws = open_workspace(make_settings(home, local_roles="viewer"))
    with pytest.raises(PermissionDenied):
        ws.tracking.create_experiment("x")
    assert ws.tracking.list_experiments() == []
    ws.close()
