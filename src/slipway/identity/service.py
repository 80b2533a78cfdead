"""``ws.identity``: users, service accounts, roles and API tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slipway.identity.projects import Project, RoleBinding
from slipway.identity.users import Caller, IssuedToken, TokenInfo, User
from slipway.store.context import Host

if TYPE_CHECKING:
    from slipway.identity.users import IdentityBackend


class IdentityService:
    """Managing who may do what. Everything but ``whoami`` and ``list_users`` needs ``admin``."""

    def __init__(self, host: Host) -> None:
        self._backend: IdentityBackend = host.backend("identity")

    def create_user(self, name: str, roles: list[str], *, kind: str = "user", email: str | None = None) -> User:
        """Create a user (``kind="user"``) or a service account (``kind="service"``) with roles."""
        return self._backend.create_user(name, list(roles), kind, email)

    def create_service_account(self, name: str, roles: list[str]) -> User:
        return self.create_user(name, roles, kind="service")

    def set_roles(self, name: str, roles: list[str]) -> User:
        return self._backend.set_roles(name, list(roles))

    def set_disabled(self, name: str, disabled: bool = True) -> User:
        """Disable (offboard) or re-enable a user; a disabled user's tokens stop working."""
        return self._backend.set_disabled(name, disabled)

    def list_users(self) -> list[User]:
        return self._backend.list_users()

    def set_password(self, user: str, password: str) -> None:
        """Set the password ``user`` signs in to the web UI with (admin only; stored as a salted
        scrypt hash; 12 to 1,024 characters)."""
        self._backend.set_password(user, password)

    def create_token(self, user: str, description: str = "", expires_in_days: float | None = None) -> IssuedToken:
        """A new API token for ``user``; the secret in ``.token`` is shown only this once."""
        return self._backend.create_token(user, description, expires_in_days)

    def revoke_token(self, token_id: str) -> TokenInfo:
        return self._backend.revoke_token(token_id)

    def list_tokens(self, user: str | None = None) -> list[TokenInfo]:
        return self._backend.list_tokens(user)

    def whoami(self) -> Caller:
        return self._backend.whoami()

    def add_key(self, user: str, public_key: str) -> Any:
        """Register an Ed25519 public key (the text of a ``.pub`` file) to ``user`` (admin)."""
        return self._backend.add_key(user, public_key)

    def revoke_key(self, fingerprint: str) -> Any:
        return self._backend.revoke_key(fingerprint)

    def list_keys(self, user: str | None = None) -> list[Any]:
        return self._backend.list_keys(user)

    # -- projects ---------------------------------------------------------------------------
    def create_project(self, name: str, description: str = "") -> Project:
        """Create a project a team owns (global admin): its experiments, datasets, models,
        deployments and monitors are then created with ``project=name``."""
        return self._backend.create_project(name, description)

    def list_projects(self) -> list[Project]:
        return self._backend.list_projects()

    def bind(self, user: str, role: str, project: str) -> RoleBinding:
        """Grant ``user`` the ``role`` in ``project`` only (e.g. developer in ``fraud``)."""
        return self._backend.bind(user, role, project)

    def unbind(self, user: str, role: str, project: str) -> None:
        self._backend.unbind(user, role, project)

    def bindings(self, user: str | None = None) -> list[RoleBinding]:
        """The per-project roles of ``user`` (default: yourself)."""
        return self._backend.bindings(user)
