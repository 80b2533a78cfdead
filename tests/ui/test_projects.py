"""The web UI in project scope, over HTTP against a real server: a user bound in ``fraud`` only
sees fraud's runs, models, datasets and deployments in every list; each page about a credit
object is a 403 page naming the permission and the project, without the object's data; buttons
show where the user may act; a global admin sees both teams."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from slipway.models.logging import log_model
from slipway.workspace import open_workspace, set_default
from tests.serving.helpers import ai4i, approve
from tests.serving.model_classes import TorqueThreshold
from tests.support import make_settings
from tests.ui.browser import ui_server
from tests.ui.test_security import csrf_of, signed_in

pytestmark = pytest.mark.xdist_group("ui-projects")
TEAMS = ("fraud", "credit")


def _team(home: Path, team: str, example: pd.DataFrame) -> str:
    """The team's experiment and run (tagged with a secret), model v1 (approved) and v2, dataset
    and deployment, all in project ``team``; returns the run id."""
    ws = open_workspace(make_settings(home, project=team))
    set_default(ws)
    try:
        ws.tracking.create_experiment(f"{team}-exp")
        with ws.tracking.start_run(f"{team}-train", experiment=f"{team}-exp") as run:
            ws.tracking.log_metrics({"auc": 0.9})
            ws.tracking.set_tags({"secret": f"{team}-secret"})
            for _ in range(2):
                log_model(
                    ws, TorqueThreshold(50.0), input_example=example, registered_model_name=f"{team}-model"
                )
        approve(home, ws, f"{team}-model/1")
        ws.governance.request_approval(f"{team}-model/2", f"{team}-secret release")
        ws.data.add(f"{team}-data", pd.DataFrame({"a": [1, 2, 3]}))
        ws.serving.apply(
            {"name": f"{team}-prod", "variants": [{"name": "stable", "model": f"{team}-model/1"}]}
        )
        return run.id
    finally:
        ws.close()


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("ui-projects")
    admin = open_workspace(make_settings(home))
    set_default(admin)
    try:
        for team in TEAMS:
            admin.identity.create_project(team)
        example = ai4i(20)[0]
        runs = {team: _team(home, team, example) for team in TEAMS}
        set_default(admin)
        admin.identity.create_user("alice", [])
        for role in ("developer", "approver"):
            admin.identity.bind("alice", role, "fraud")
        alice = admin.identity.create_token("alice", "ui").token
    finally:
        admin.close()
        set_default(None)
    with ui_server(make_settings(home)) as (url, admin_token):
        yield {"url": url, "runs": runs, "alice": alice, "admin": admin_token}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def test_lists_show_only_the_users_projects(bank: dict[str, Any]) -> None:
    alice = signed_in(bank["url"], bank["alice"])
    for path in (
        "/",
        "/runs",
        "/models",
        "/datasets",
        "/deployments",
        "/pipelines",
        "/monitoring",
        "/features",
    ):
        page = alice.get(path)
        assert page.status_code == 200, (path, page.text[-500:])
        assert "credit" not in _text(page.text), path
    assert "fraud-train" in alice.get("/runs").text
    assert "fraud-model" in alice.get("/models").text and "fraud-data" in alice.get("/datasets").text
    assert "fraud-prod" in alice.get("/deployments").text
    admin = signed_in(bank["url"], bank["admin"])  # a global admin sees both teams, with their projects
    models = _text(admin.get("/models").text)
    assert "fraud-model fraud" in models and "credit-model credit" in models
    runs = admin.get("/runs").text
    assert "fraud-train" in runs and "credit-train" in runs
    assert "credit-prod credit" in _text(admin.get("/deployments").text)


def test_credit_pages_are_403_naming_permission_and_project(bank: dict[str, Any]) -> None:
    alice = signed_in(bank["url"], bank["alice"])
    credit, fraud = bank["runs"]["credit"], bank["runs"]["fraud"]
    for path in (
        f"/runs/{credit}",
        f"/runs/{credit}/chart?key=auc",
        f"/runs/{credit}/series?key=auc",
        f"/runs/{credit}/artifacts/model/slipway-model.json",
        f"/compare?run={fraud}&run={credit}",
        "/models/credit-model",
        "/models/credit-model/2",
        "/datasets/credit-data",
        "/datasets/credit-data/1",
        "/datasets/credit-data/diff?old=1&new=1",
        "/deployments/credit-prod",
    ):
        page = alice.get(path)
        assert page.status_code == 403, (path, page.status_code, page.text[-400:])
        text = _text(page.text)
        assert "'read' permission" in text and "in project 'credit'" in text, (path, text[-400:])
        assert "credit-secret" not in text and "0.9" not in text, path
    for path in (
        f"/runs/{fraud}",
        "/models/fraud-model",
        "/models/fraud-model/2",
        "/datasets/fraud-data/1",
        "/deployments/fraud-prod",
    ):
        page = alice.get(path)
        assert page.status_code == 200, (path, page.text[-400:])
    forged = alice.post(
        "/models/credit-model/1/promote", data={"alias": "champion", "csrf_token": csrf_of(alice)}
    )
    assert forged.status_code == 403 and "in project &#39;credit&#39;" in forged.text


def test_buttons_follow_the_users_roles_in_the_objects_project(bank: dict[str, Any]) -> None:
    alice = signed_in(bank["url"], bank["alice"])  # developer and approver in fraud, nothing globally
    version = alice.get("/models/fraud-model/2").text
    assert 'id="promote"' in version and 'value="approve"' in version
    assert 'value="approve"' in alice.get("/models/fraud-model").text
    promoted = alice.post(
        "/models/fraud-model/1/promote",
        data={"alias": "staging", "csrf_token": csrf_of(alice)},
        follow_redirects=False,
    )
    assert promoted.status_code == 303, promoted.text[-400:]
    assert "staging" in alice.get("/models/fraud-model/1").text
