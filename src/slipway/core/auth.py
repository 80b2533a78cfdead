"""Principals, roles and the permissions each role grants.

Every service endpoint names one permission (see :func:`endpoint`); the check is the same in
embedded mode (the configured local user) and remote mode (the token's user), because both run
the same backend code.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from slipway.core.errors import PermissionDenied
from slipway.core.limits import check_arguments

ROLES: dict[str, frozenset[str]] = {
    # "predict": call the models of an inference server started with `slipway serve --auth`.
    "viewer": frozenset({"read", "predict"}),
    "developer": frozenset(
        {"read", "predict", "tracking.write", "data.write", "registry.write", "pipelines.run", "features.write",
         "monitoring.write"}
    ),
    # Records evidence a policy relies on (validation verdicts, fairness and evaluation reports).
    "validator": frozenset({"read", "governance.validate"}),
    # "governance.configure": a model's risk tier and policy, the inputs that set what approval needs.
    "approver": frozenset({"read", "governance.approve", "governance.configure"}),
    # Moving or removing a protected alias (champion, production) decides what serves traffic.
    "deployer": frozenset({"read", "predict", "deploy", "monitoring.write", "alias.protected"}),
    # "audit.read": the whole ledger (every actor and detail) and its verification.
    "auditor": frozenset({"read", "audit.read"}),
    "admin": frozenset({"*"}),
}


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling: a user or service account name and its roles."""

    name: str
    roles: frozenset[str]
    kind: str = "user"

    @property
    def permissions(self) -> frozenset[str]:
        granted: set[str] = set()
        for role in self.roles:
            granted |= ROLES.get(role, frozenset())
        return frozenset(granted)

    def can(self, permission: str) -> bool:
        granted = self.permissions
        return "*" in granted or permission in granted

    def require(self, permission: str, what: str = "") -> None:
        self.require_any((permission,), what)

    def require_any(self, permissions: tuple[str, ...], what: str = "") -> None:
        """PermissionDenied unless the principal holds at least one of ``permissions``."""
        if not any(self.can(p) for p in permissions):
            roles = ", ".join(sorted(self.roles)) or "none"
            holders = " or ".join(dict.fromkeys(r for p in permissions for r in roles_holding(p)))
            needed = " or ".join(f"'{p}'" for p in permissions)
            raise PermissionDenied(
                f"{self.name} (roles: {roles}) may not {what or permissions[0]}; it needs the "
                f"{needed} permission, which the {holders} role grants"
            )


def roles_holding(permission: str) -> list[str]:
    """The roles that grant ``permission`` (admin always does), for error messages and docs."""
    holders = [role for role, granted in ROLES.items() if permission in granted and role != "admin"]
    return [*holders, "admin"]


class DecisionSigner(Protocol):
    """Signs governance decisions made in embedded mode with a key registered to the acting user."""

    @property
    def fingerprint(self) -> str: ...

    def sign(self, payload: bytes) -> str: ...


F = TypeVar("F", bound=Callable[..., Any])

# Endpoints needing these only read: the others change state, so the remote client tags each call
# of them with an idempotency key and the server runs it exactly once per key.
READ_PERMISSIONS = frozenset({"read", "audit.read"})


def endpoint(permission: str, *alternatives: str) -> Callable[[F], F]:
    """Mark a backend method as part of the API, callable by principals holding ``permission`` or
    any of the ``alternatives`` (e.g. ``@endpoint("governance.validate", "data.write")``).

    The server publishes every marked method as ``POST /api/v1/<service>/<method>``; the check
    runs inside the method, so embedded and remote callers are authorised alike. So do the limits
    of :mod:`slipway.core.limits` on the arguments (after the permission, so a caller without it
    learns nothing from them).
    """

    permissions = (permission, *alternatives)

    def mark(fn: F) -> F:
        names = list(inspect.signature(fn).parameters)[1:]

        @functools.wraps(fn)
        def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
            self.ctx.principal.require_any(permissions, fn.__name__.replace("_", " "))
            if args or kwargs:
                check_arguments({**dict(zip(names, args, strict=False)), **kwargs})
            return fn(self, *args, **kwargs)

        checked.__slipway_permission__ = " or ".join(permissions)  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return mark


def endpoints_of(backend_cls: type) -> dict[str, str]:
    """The API methods of a backend class and the permission each needs (``"a or b"``: any of them)."""
    found = {}
    for name in dir(backend_cls):
        permission = getattr(getattr(backend_cls, name), "__slipway_permission__", None)
        if permission is not None and not name.startswith("_"):
            found[name] = permission
    return found
