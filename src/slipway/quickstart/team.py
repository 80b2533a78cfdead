"""The people of the quickstart, each with a workspace over the same home.

- ``admin`` (the platform operator; no user row, so embedded mode gives it ``local_roles``):
  creates users, the model and its policy, and runs the inference server.
- ``alice`` (developer, deployer, approver): versions data, runs the pipeline, requests approval.
  She holds the approver role too, so what stops her approving her own request is the four-eyes
  rule itself, not a missing permission.
- ``bob`` (approver): reviews and approves.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from slipway.core.errors import NotFound
from slipway.core.settings import Settings, load_settings
from slipway.quickstart.project import Project
from slipway.workspace import Workspace, open_workspace

ADMIN = "quickstart-admin"
PEOPLE = {"alice": ["developer", "deployer", "approver"], "bob": ["approver"]}
MODEL = "ai4i-failure"
DATASET = "ai4i"
DEPLOYMENT = "maintenance"


def settings_for(project: Project, user: str) -> Settings:
    """Embedded settings in the project's home, whatever ``SLIPWAY_*`` says: the quickstart never
    touches another store."""
    return load_settings(home=project.home, user=user, config_path=str(project.config), store_uri="",
                         artifacts_uri="", server_url="", token="")


@dataclasses.dataclass
class Team:
    admin: Workspace
    alice: Workspace
    bob: Workspace
    settings: Settings  # the admin's (what the inference server runs as)

    def close(self) -> None:
        for ws in (self.alice, self.bob, self.admin):
            ws.close()


def open_team(project: Project) -> Team:
    """Workspaces for the admin, then (once their users exist) alice and bob."""
    project.home.mkdir(parents=True, exist_ok=True)
    admin_settings = settings_for(project, ADMIN)
    admin = open_workspace(admin_settings)
    existing = {u.name: u for u in admin.identity.list_users()}
    for name, roles in PEOPLE.items():
        if name not in existing:
            admin.identity.create_user(name, roles)
        elif sorted(existing[name].roles) != sorted(roles):
            admin.identity.set_roles(name, roles)
    return Team(admin, open_workspace(settings_for(project, "alice")), open_workspace(settings_for(project, "bob")),
                admin_settings)


def prepare_governance(team: Team, project: Project) -> list[str]:
    """The model (owner alice, risk tier medium) and its policy; returns what was created."""
    created = []
    try:
        team.admin.registry.get_model(MODEL)
    except NotFound:
        team.admin.registry.create_model(MODEL, "Predicts machine failure from AI4I process readings", owner="alice",
                                         risk_tier="medium", tags={"project": "predictive-maintenance"})
        created.append(f"model {MODEL} (risk tier medium)")
    policy = project.file("policy.yaml").read_text()
    if _current_policy_source(team.admin) != policy:
        info = team.admin.governance.set_policy(policy, model=MODEL)
        created.append(f"policy for {MODEL} (revision {info.revision})")
    return created


def _current_policy_source(ws: Workspace) -> str | None:
    try:
        versions = ws.registry.list_versions(MODEL)
    except NotFound:
        return None
    if not versions:
        return None
    info: Any = ws.governance.get_policy(versions[0].ref)
    return None if info is None or info.scope != "model" else str(info.source)
