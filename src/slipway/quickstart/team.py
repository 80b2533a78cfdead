"""The people of the quickstart, each with a workspace over the same home.

- ``admin``: you, the operating-system user (the first to open the new store, so its bootstrap
  admin): creates users, registers their signing keys, the model and its policy, and runs the
  inference server.
- ``alice`` (developer, deployer, approver): versions data, runs the pipeline, requests approval.
  She holds the approver role too, so what stops her approving her own request is the four-eyes
  rule itself, not a missing permission.
- ``bob`` (approver): reviews and approves.

Alice and Bob act in embedded mode the way any user other than the operating-system user must:
each holds an Ed25519 key registered to them, which signs their approvals and alias moves. The
quickstart generates those keys in its own home (``keys/``) for the demo; real users keep theirs
in a file only they can read (``slipway users key generate``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from slipway.core.environment import os_user
from slipway.core.errors import NotFound
from slipway.core.settings import Settings, load_settings
from slipway.identity.keys import generate_key_files, parse_public_key
from slipway.quickstart.project import Project
from slipway.workspace import Workspace, open_workspace

PEOPLE = {"alice": ["developer", "deployer", "approver"], "bob": ["approver"]}
MODEL = "ai4i-failure"
DATASET = "ai4i"
DEPLOYMENT = "maintenance"


def settings_for(project: Project, user: str = "", signing_key: str = "") -> Settings:
    """Embedded settings in the project's home, whatever ``SLIPWAY_*`` says: the quickstart never
    touches another store. Without ``user``, the operating-system user."""
    return load_settings(home=project.home, user=user or os_user(), config_path=str(project.config), store_uri="",
                         artifacts_uri="", server_url="", token="", signing_key=signing_key)


def _signing_key(admin: Workspace, project: Project, name: str) -> str:
    """The demo key of ``name`` (made once in the quickstart's home), registered to them."""
    path = project.home / "keys" / name
    if not path.exists():
        generate_key_files(path, f"{name}@quickstart")
    public = path.with_name(path.name + ".pub").read_text()
    if parse_public_key(public)[1] not in {k.fingerprint for k in admin.identity.list_keys(name)}:
        admin.identity.add_key(name, public)
    return str(path)


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
    admin = open_workspace(settings_for(project))
    # The admin signs too: the inference server it runs moves the protected alias after a canary.
    admin_settings = settings_for(project, signing_key=_signing_key(admin, project, admin.principal.name))
    admin.close()
    admin = open_workspace(admin_settings)
    existing = {u.name: u for u in admin.identity.list_users()}
    for name, roles in PEOPLE.items():
        if name not in existing:
            admin.identity.create_user(name, roles)
        elif sorted(existing[name].roles) != sorted(roles):
            admin.identity.set_roles(name, roles)
    alice, bob = (open_workspace(settings_for(project, name, _signing_key(admin, project, name))) for name in PEOPLE)
    return Team(admin, alice, bob, admin_settings)


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
