"""Who is who at the bank, in one place: the platform team, the two product teams (fraud, credit),
model validation, the change advisory board (CAB) and the auditor, their users and the project
each acts in, and the models each team owns.

Who holds which role where is not here: it is in the platform repository (``access.yaml``),
applied from Git like everything else. The product teams' people hold roles only in their own
project (and ``viewer`` in ``platform``, for the shared features): ``fiona`` cannot read or change
the credit model, its runs or its deployment, nor ``carl`` the fraud team's. Validation, the CAB
and the auditor hold global roles. Only ``platform-ci`` is made an admin here, since it applies
the folder that grants everyone else their roles.

People act in embedded mode the way any user other than the operating-system user must: each
holds an Ed25519 key registered to them (made in the example's home under ``keys/`` for the
demo), which signs their approvals and alias moves.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import slipway
from slipway import AlreadyExists, NotFound, Workspace

# user -> (team, the project their workspace acts in, kind); their roles are in access.yaml
PEOPLE: dict[str, tuple[str, str, str]] = {
    "platform-ci": ("platform", "platform", "service"),  # applies the platform folder from Git
    "fiona": ("fraud", "fraud", "user"),                  # fraud team: builds, deploys, promotes
    "carl": ("credit", "credit", "user"),                 # credit team
    "vera": ("model-validation", "default", "user"),      # independent validation: fairness evidence
    "rita": ("cab", "default", "user"),                   # CAB members: approve in ServiceNow
    "rob": ("cab", "default", "user"),
    "servicenow": ("cab", "default", "service"),          # relays the tickets' verdicts into Slipway
    "aude": ("audit", "default", "user"),                 # exports evidence for the regulator
}
BOOTSTRAP_ROLES = {"platform-ci": ["admin"]}  # the rest come from the platform folder
CAB = ("rita", "rob")
# model -> (owning team, which is also its project, description); both are high risk: signed off through a ServiceNow change
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
    home: Path
    config: Path

    def __getitem__(self, user: str) -> Workspace:
        return self.people[user]

    def reconnect(self) -> None:
        """New workspaces for everyone: a workspace holds the roles its user had when it connected,
        so the people reconnect once the platform folder has bound them."""
        for user, ws in list(self.people.items()):
            ws.close()
            self.people[user] = connect(self.home, self.config, user, str(self.home / "keys" / user), PEOPLE[user][1])

    def close(self) -> None:
        for ws in [*self.people.values(), self.admin]:
            ws.close()


def connect(home: Path, config: Path, user: str = "", signing_key: str = "", project: str = "default") -> Workspace:
    """An embedded workspace in ``home`` whatever ``SLIPWAY_*`` says: the example never touches another store."""
    return slipway.connect(str(home), user=user, signing_key=signing_key, config_path=str(config), store_uri="",
                           artifacts_uri="", server_url="", token="", project=project)


def _key(admin: Workspace, home: Path, name: str) -> str:
    path = home / "keys" / name
    public = slipway.generate_signing_key(path, f"{name}@bank-example")
    try:
        admin.identity.add_key(name, public)
    except AlreadyExists:
        pass  # registered by an earlier run
    return str(path)


def open_bank(home: Path, config: Path) -> Bank:
    """Workspaces for the bootstrap admin (the operating-system user) and every person of :data:`PEOPLE`
    (each in their project), created with their signing keys when missing; only ``platform-ci`` gets
    a role here (admin): the platform folder grants the others theirs."""
    admin = connect(home, config)
    name = admin.principal.name
    key = _key(admin, home, name)
    admin.close()
    admin = connect(home, config, name, key)
    existing = {u.name: u for u in admin.identity.list_users()}
    for user, (_, _, kind) in PEOPLE.items():
        if user not in existing:
            admin.identity.create_user(user, BOOTSTRAP_ROLES.get(user, []), kind=kind)
    people = {user: connect(home, config, user, _key(admin, home, user), project) for user, (_, project, _) in
              PEOPLE.items()}
    return Bank(admin, people, home, config)


def ensure_models(bank: Bank) -> list[str]:
    """The registered models of the product teams, each in its team's project (risk tier high, owner
    the team); returns those created."""
    created = []
    for model, (team, description) in MODELS.items():
        try:
            bank.admin.registry.get_model(model)
        except NotFound:
            bank.admin.registry.create_model(model, description, owner=f"{team}-team", risk_tier="high",
                                             tags={"team": team}, project=team)
            created.append(model)
    return created


def team_of(user: str) -> str:
    return PEOPLE[user][0]
