"""Who is who at the bank, in one place: the platform team, the two product teams (fraud, credit),
model validation, the change advisory board (CAB) and the auditor, with their users and roles,
and the models each team owns.

Every team and role decision of the example is here and nowhere else, so that when Slipway gains
projects (per-project role bindings, ``project=`` on entities) this module is the one to change:
give each team its project and bind its people to it. Today a role holds across the whole store:
``fiona`` the fraud developer *could* technically touch the credit model; the example keeps each
team to its own models by convention (owners, tags) only.

People act in embedded mode the way any user other than the operating-system user must: each
holds an Ed25519 key registered to them (made in the example's home under ``keys/`` for the
demo), which signs their approvals and alias moves.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import slipway
from slipway import AlreadyExists, NotFound, Workspace

# user -> (team, roles, kind)
PEOPLE: dict[str, tuple[str, list[str], str]] = {
    "platform-ci": ("platform", ["admin"], "service"),        # applies the platform folder from Git
    "fiona": ("fraud", ["developer", "deployer"], "user"),     # fraud team: builds, deploys, promotes
    "carl": ("credit", ["developer", "deployer"], "user"),     # credit team
    "vera": ("model-validation", ["validator"], "user"),      # independent validation: fairness evidence
    "rita": ("cab", ["approver"], "user"),                     # CAB members: approve in ServiceNow
    "rob": ("cab", ["approver"], "user"),
    "servicenow": ("cab", ["approver"], "service"),             # relays the tickets' verdicts into Slipway
    "aude": ("audit", ["auditor"], "user"),                    # exports evidence for the regulator
}
CAB = ("rita", "rob")
# model -> (owning team, description); both are high risk: signed off through a ServiceNow change
MODELS = {
    "fraud": ("fraud", "Scores card transactions for fraud (simulated card network)"),
    "credit": ("credit", "Grants or declines consumer credit (German credit applicants)"),
}
SERVICENOW_PASSWORDS = {"slipway-integration": "integration-pw", "rita": "rita-pw", "rob": "rob-pw",
                        "fiona": "fiona-pw", "carl": "carl-pw"}


@dataclasses.dataclass
class Bank:
    """A workspace per person, all over the same home."""

    admin: Workspace
    people: dict[str, Workspace]

    def __getitem__(self, user: str) -> Workspace:
        return self.people[user]

    def close(self) -> None:
        for ws in [*self.people.values(), self.admin]:
            ws.close()


def connect(home: Path, config: Path, user: str = "", signing_key: str = "") -> Workspace:
    """An embedded workspace in ``home`` whatever ``SLIPWAY_*`` says: the example never touches another store."""
    return slipway.connect(str(home), user=user, signing_key=signing_key, config_path=str(config), store_uri="",
                           artifacts_uri="", server_url="", token="")


def _key(admin: Workspace, home: Path, name: str) -> str:
    path = home / "keys" / name
    public = slipway.generate_signing_key(path, f"{name}@bank-example")
    try:
        admin.identity.add_key(name, public)
    except AlreadyExists:
        pass  # registered by an earlier run
    return str(path)


def open_bank(home: Path, config: Path) -> Bank:
    """Workspaces for the bootstrap admin (the operating-system user) and every person of :data:`PEOPLE`,
    created (with their roles and signing keys) when missing."""
    admin = connect(home, config)
    name = admin.principal.name
    key = _key(admin, home, name)
    admin.close()
    admin = connect(home, config, name, key)
    existing = {u.name: u for u in admin.identity.list_users()}
    for user, (_, roles, kind) in PEOPLE.items():
        if user not in existing:
            admin.identity.create_user(user, roles, kind=kind)
        elif sorted(existing[user].roles) != sorted(roles):
            admin.identity.set_roles(user, roles)
    people = {user: connect(home, config, user, _key(admin, home, user)) for user in PEOPLE}
    return Bank(admin, people)


def ensure_models(bank: Bank) -> list[str]:
    """The registered models of the product teams (risk tier high, owner the team); returns those created."""
    created = []
    for model, (team, description) in MODELS.items():
        try:
            bank.admin.registry.get_model(model)
        except NotFound:
            bank.admin.registry.create_model(model, description, owner=f"{team}-team", risk_tier="high",
                                             tags={"team": team})
            created.append(model)
    return created


def team_of(user: str) -> str:
    return PEOPLE[user][0]
