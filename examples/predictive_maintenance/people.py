"""The people of the example, each with a workspace over the same home, and what they decide.

- ``admin``: you, the operating-system user (the first to open the new store, so its bootstrap
  admin): creates users, registers their signing keys, the model and its policy, and runs the
  inference server.
- ``alice`` (developer, deployer, approver): versions data, runs the pipeline, requests approval.
  She holds the approver role too, so what stops her approving her own request is the four-eyes
  rule itself, not a missing permission.
- ``bob`` (approver): reviews and approves.

Alice and Bob act in embedded mode the way any user other than the operating-system user must:
each holds an Ed25519 key registered to them, which signs their approvals and alias moves. The
example generates those keys in its own home (``keys/``) for the demo; real users keep theirs in
a file only they can read (``slipway users key generate``).

Pointed at a team's servers (``run.py --server-url URLS --token ADMIN_TOKEN``), the admin is the
token's user and alice and bob act with API tokens the admin issues them: the servers
authenticate them and sign nothing on their behalf is needed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from drops import Project
from report import MODEL, Reporter

import slipway
from slipway import AlreadyExists, Conflict, NotFound, PermissionDenied, Workspace

PEOPLE = {"alice": ["developer", "deployer", "approver"], "bob": ["approver"]}


def connect(project: Project, user: str = "", signing_key: str = "", token: str = "") -> Workspace:
    """An embedded workspace in the project's home, whatever ``SLIPWAY_*`` says: the example never
    touches another store. Without ``user``, the operating-system user. With the project's
    ``server_url``, a remote workspace on those servers as ``token``'s user (the admin's by default)."""
    if project.server_url:
        return slipway.connect(str(project.home), server_url=project.server_url, token=token or project.token,
                               user="", signing_key="", config_path=str(project.config), store_uri="", artifacts_uri="")
    return slipway.connect(str(project.home), user=user, signing_key=signing_key, config_path=str(project.config),
                           store_uri="", artifacts_uri="", server_url="", token="")


def signing_key(admin: Workspace, project: Project, name: str) -> str:
    """The demo key of ``name`` (made once in the example's home), registered to them."""
    path = project.home / "keys" / name
    public = slipway.generate_signing_key(path, f"{name}@quickstart")
    try:
        admin.identity.add_key(name, public)
    except AlreadyExists:
        pass  # registered by an earlier run
    return str(path)


@dataclasses.dataclass
class Team:
    admin: Workspace
    alice: Workspace
    bob: Workspace

    def close(self) -> None:
        for ws in (self.alice, self.bob, self.admin):
            ws.close()


def open_team(project: Project) -> Team:
    """Workspaces for the admin, then (once their users exist) alice and bob."""
    project.home.mkdir(parents=True, exist_ok=True)
    if project.server_url:
        return _open_remote_team(project)
    admin = connect(project)
    # The admin signs too: the inference server it runs moves the protected alias after a canary.
    key = signing_key(admin, project, admin.principal.name)
    name = admin.principal.name
    admin.close()
    admin = connect(project, name, key)
    _ensure_people(admin)
    alice, bob = (connect(project, user, signing_key(admin, project, user)) for user in PEOPLE)
    return Team(admin, alice, bob)


def _open_remote_team(project: Project) -> Team:
    """On a team's servers: the admin (the token's user) creates alice and bob and issues each a token."""
    admin = connect(project)
    _ensure_people(admin)
    alice, bob = (connect(project, token=admin.identity.create_token(user, "quickstart").token) for user in PEOPLE)
    return Team(admin, alice, bob)


def _ensure_people(admin: Workspace) -> None:
    existing = {u.name: u for u in admin.identity.list_users()}
    for user, roles in PEOPLE.items():
        if user not in existing:
            admin.identity.create_user(user, roles)
        elif sorted(existing[user].roles) != sorted(roles):
            admin.identity.set_roles(user, roles)


def prepare_governance(team: Team, project: Project) -> list[str]:
    """The model (owner alice, risk tier medium) and its policy; returns what was created."""
    created = []
    try:
        team.admin.registry.get_model(MODEL)
    except NotFound:
        team.admin.registry.create_model(MODEL, "Predicts machine failure from AI4I process readings", owner="alice",
                                         risk_tier="medium", tags={"project": "predictive-maintenance"})
        created.append(f"model {MODEL} (risk tier medium)")
    policy = (project.folder / "policy.yaml").read_text()
    if _current_policy_source(team.admin) != policy:
        info = team.admin.governance.set_policy(policy, model=MODEL)
        created.append(f"policy for {MODEL} (revision {info.revision})")
    return created


def _current_policy_source(ws: Workspace) -> str | None:
    versions = ws.registry.list_versions(MODEL)
    if not versions:
        return None
    info: Any = ws.governance.get_policy(versions[0].ref)
    return None if info is None or info.scope != "model" else str(info.source)


def approve_with_four_eyes(team: Team, ref: str, reporter: Reporter) -> Any:
    """Alice (the requester) tries to approve her own request and is refused; Bob approves.

    Raises:
        Conflict: the request could not be completed (e.g. the policy blocks it; named).
    """
    status = team.alice.governance.status(ref)
    if status.state in ("approved", "deployed"):
        reporter.ok(f"{ref} is already {status.state}")
        return status
    requests = [r for r in team.alice.governance.list_requests(MODEL, "open") if f"{r.model}/{r.version}" == ref]
    request = requests[0] if requests else team.alice.governance.request_approval(ref, "quickstart: passes the gate")
    reporter.info(f"approval request {request.id} for {ref} by {request.requested_by} "
                  f"({request.required} approval(s) needed)")
    try:
        team.alice.governance.approve(request.id, "looks good to me")
        raise Conflict(f"alice approved her own request {request.id}: the four-eyes rule did not hold")
    except PermissionDenied as err:
        reporter.refused(f"alice approving her own request: refused ({err.message})")
    decided = team.bob.governance.approve(request.id, "held-out week metrics and model card reviewed")
    if decided.status != "approved":
        raise Conflict(f"approval request {request.id} is {decided.status}: "
                       f"{decided.blocked_by or 'see slipway governance status'}")
    reporter.ok(f"bob approved {ref} ({decided.approvals}/{decided.required})")
    return team.alice.governance.status(ref)


def ensure_champion(team: Team, ref: str, reporter: Reporter) -> None:
    """Point ``champion`` at ``ref`` unless the model already has a champion."""
    try:
        current = team.alice.registry.resolve(f"{MODEL}@champion")
    except NotFound:
        current = None
    if current is not None:
        reporter.ok(f"{MODEL}@champion is {current.ref}")
        return
    team.alice.governance.promote(ref, "champion")
    reporter.ok(f"{MODEL}@champion -> {ref} (protected alias: policy re-checked)")
