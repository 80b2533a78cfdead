"""Principals, roles and the permissions each role grants.

Every service endpoint names one permission (see :func:`endpoint`); the check is the same in
embedded mode (the configured local user) and remote mode (the token's user), because both run
the same backend code.

Roles are held globally (``Principal.roles``: in every project, today's single-team behaviour) or
per project (``Principal.bindings``: ``(project, role)`` pairs). A principal holding an endpoint's
permission globally passes as before; one holding it only through bindings is *scoped*: the
endpoint asks its backend which projects the call touches (``backend._projects_of``, see
:mod:`slipway.store.projects`) and requires the permission in each. A backend that cannot say
refuses scoped principals, so a new endpoint is closed to them until it is scoped.
"""

from __future__ import annotations

import copy
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
    # Roles held in one project only: (project, role) pairs (``ws.identity.bind``).
    bindings: tuple[tuple[str, str], ...] = ()
    # The projects a scoped call acts in (set by :func:`endpoint` on the principal it hands the
    # method), so a refusal inside the method names them.
    acting_in: tuple[str, ...] = ()
    # The id of the API token a server authenticated this principal by ("" otherwise): a decision
    # made through the server names it in its proof (slipway.identity.proof).
    token_id: str = ""
    # Where it may ``read`` as it was before :meth:`require_in` narrowed it to a call's projects
    # (None: everywhere), so a call that reads across projects (a model card's lineage) can still
    # leave out what the caller may not read.
    reads_before: frozenset[str] | None = None

    @property
    def permissions(self) -> frozenset[str]:
        return _granted(self.roles)

    def roles_in(self, project: str) -> frozenset[str]:
        """The roles held in ``project``: the global ones and those bound there."""
        return self.roles | {role for bound, role in self.bindings if bound == project}

    def can_in(self, permission: str, project: str) -> bool:
        granted = _granted(self.roles_in(project))
        return "*" in granted or permission in granted

    def can_somewhere(self, permission: str) -> bool:
        """Holds ``permission`` globally or in at least one project."""
        return self.can(permission) or any(self.can_in(permission, p) for p, _ in self.bindings)

    def projects_where(self, permission: str) -> frozenset[str] | None:
        """The projects where ``permission`` is held; None when it is held globally (everywhere)."""
        if self.can(permission):
            return None
        return frozenset(p for p, _ in self.bindings if self.can_in(permission, p))

    def readable_projects(self) -> frozenset[str] | None:
        """The projects it may ``read`` as the caller it is, even inside a call an endpoint narrowed
        to some projects; None when it reads everywhere."""
        return self.reads_before if self.acting_in else self.projects_where("read")

    def require_in(self, permissions: tuple[str, ...], projects: frozenset[str], what: str = "") -> Principal:
        """PermissionDenied unless one of ``permissions`` is held in every project of ``projects``;
        otherwise the principal acting in them (holding there the roles common to all of them)."""
        for project in sorted(projects):
            if not any(self.can_in(p, project) for p in permissions):
                raise PermissionDenied(self._refusal(permissions, what, project))
        common = frozenset.intersection(*(self.roles_in(p) for p in projects)) if projects else self.roles
        return dataclasses.replace(self, roles=common, acting_in=tuple(sorted(projects)),
                                   reads_before=self.readable_projects())

    def can(self, permission: str) -> bool:
        granted = self.permissions
        return "*" in granted or permission in granted

    def require(self, permission: str, what: str = "") -> None:
        self.require_any((permission,), what)

    def require_any(self, permissions: tuple[str, ...], what: str = "") -> None:
        """PermissionDenied unless the principal holds at least one of ``permissions``."""
        if not any(self.can(p) for p in permissions):
            raise PermissionDenied(self._refusal(permissions, what, ",".join(self.acting_in) or None))

    def _refusal(self, permissions: tuple[str, ...], what: str, project: str | None) -> str:
        roles = ", ".join(sorted(self.roles)) or "none"
        if self.bindings:
            roles += "; " + ", ".join(f"{r} in {p}" for p, r in sorted(self.bindings))
        holders = " or ".join(dict.fromkeys(r for p in permissions for r in roles_holding(p)))
        needed = " or ".join(f"'{p}'" for p in permissions)
        where = f" in project {project!r}" if project else ""
        scope = f" there (bind one with `slipway users bind {self.name} ROLE --project {project}`)" if project else ""
        return (f"{self.name} (roles: {roles}) may not {what or permissions[0]}{where}; it needs the "
                f"{needed} permission{scope}, which the {holders} role grants")


@functools.lru_cache(maxsize=256)  # every API call asks; ROLES is fixed, role sets are few
def _granted(roles: frozenset[str]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= ROLES.get(role, frozenset())
    return frozenset(granted)


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
# What a project scope returns for an argument naming an object that does not exist (yet).
MISSING_OBJECT = "\x00missing"


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
            arguments = {**dict(zip(names, args, strict=False)), **kwargs}
            self = authorised(self, fn.__name__, permissions, arguments)
            if arguments:
                check_arguments(arguments)
            return fn(self, *args, **kwargs)

        checked.__slipway_permission__ = " or ".join(permissions)  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return mark


def authorised(backend: Any, method: str, permissions: tuple[str, ...], arguments: dict[str, Any]) -> Any:
    """``backend`` cleared to run ``method`` with ``arguments`` (what :func:`endpoint` checks before
    every call): itself for a principal holding one of ``permissions`` globally, a copy acting in
    the call's projects for a project-scoped one, or PermissionDenied naming permission and project.

    In-process callers that are not endpoints themselves (the MLflow API's artifact upload, a
    metric history read as raw rows) ask it with the endpoint whose check they share.
    """
    principal: Principal = backend.ctx.principal
    if not any(principal.can(p) for p in permissions) and principal.bindings:
        return _scoped(backend, method, permissions, arguments)
    principal.require_any(permissions, method.replace("_", " "))
    return backend


def _scoped(backend: Any, method: str, permissions: tuple[str, ...], arguments: dict[str, Any]) -> Any:
    """``backend`` acting for its principal inside the projects the call touches, or
    PermissionDenied naming the permission and the project it is missing in.

    ``backend._projects_of(method, arguments)`` returns those projects, or None for a method that
    filters what it returns by itself (listings); a backend without it refuses scoped principals.
    """
    principal: Principal = backend.ctx.principal
    what = method.replace("_", " ")
    if not any(principal.can_somewhere(p) for p in permissions):
        principal.require_any(permissions, what)
    resolve = getattr(backend, "_projects_of", None)
    projects = resolve(method, arguments) if resolve is not None else frozenset()
    if projects and MISSING_OBJECT in projects:
        # Names an object that does not exist: a read raises NotFound (nothing to hide), a
        # change acts in the project it names or the workspace's.
        if set(permissions) <= READ_PERMISSIONS:
            return backend
        projects = (projects - {MISSING_OBJECT}) | {arguments.get("project") or backend.ctx.settings.project or "default"}
    if projects is None:  # a listing: it shows only what the principal may read
        return backend
    if not projects:
        raise PermissionDenied(principal._refusal(permissions, f"{what} (it is not scoped to a project)", None)
                               + " globally")
    acting = principal.require_in(permissions, frozenset(projects), what)
    scoped = copy.copy(backend)
    scoped.ctx = backend.ctx.as_principal(acting)
    return scoped


def endpoints_of(backend_cls: type) -> dict[str, str]:
    """The API methods of a backend class and the permission each needs (``"a or b"``: any of them)."""
    found = {}
    for name in dir(backend_cls):
        permission = getattr(getattr(backend_cls, name), "__slipway_permission__", None)
        if permission is not None and not name.startswith("_"):
            found[name] = permission
    return found
