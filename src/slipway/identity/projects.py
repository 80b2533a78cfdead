"""Projects and per-project role bindings (``ws.identity.create_project``, ``bind``, ``unbind``).

A user's global roles (``users.roles``) hold in every project; a binding grants one role in one
project only (alice is developer in ``fraud`` and nothing elsewhere). A global admin manages
projects and bindings; an admin bound in a project may bind and unbind users in that project.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from slipway.core.auth import ROLES, endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import AlreadyExists, InvalidInput, NotFound
from slipway.core.events import Action, Subject
from slipway.core.names import check_name, check_value
from slipway.core.records import record
from slipway.identity.registry import user_row
from slipway.identity.revocations import access_changed
from slipway.store.context import ServiceContext
from slipway.store.schema.core import users
from slipway.store.schema.identity import projects, role_bindings


@record
class Project:
    name: str
    description: str
    created_by: str
    created_ms: int


@record
class RoleBinding:
    """``user`` holds ``role`` in ``project`` (and only there)."""

    user: str
    role: str
    project: str
    bound_by: str
    created_ms: int


def project_bindings(conn: Connection, user_id: str) -> tuple[tuple[str, str], ...]:
    """A user's ``(project, role)`` bindings, for its :class:`~slipway.core.auth.Principal`."""
    rows = conn.execute(select(role_bindings.c.project, role_bindings.c.role)
                        .where(role_bindings.c.user_id == user_id)
                        .order_by(role_bindings.c.project, role_bindings.c.role))
    return tuple((row.project, row.role) for row in rows)


def _project_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(projects).where(projects.c.name == name)).first()
    if row is None:
        known = ", ".join(r.name for r in conn.execute(select(projects.c.name).order_by(projects.c.name)))
        raise NotFound(f"project {name!r} does not exist; the projects are {known}; create it with "
                       f"`slipway projects create {name}`")
    return row


def _role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; choose from {', '.join(ROLES)}")
    return role


class ProjectEndpoints:
    ctx: ServiceContext

    @endpoint("admin")
    def create_project(self, name: str, description: str = "") -> Project:
        """Create a project (global admin). AlreadyExists if the name is taken."""
        check_name(name, "project name")
        project = Project(name, check_value(description, "description"), self.ctx.principal.name, now_ms())
        with self.ctx.db.write() as conn:
            if conn.execute(select(projects.c.name).where(projects.c.name == name)).first():
                raise AlreadyExists(f"project {name!r} already exists")
            conn.execute(projects.insert().values(name=name, description=project.description,
                                                  created_by=project.created_by, created_ms=project.created_ms))
            self.ctx.audit(conn, Action.PROJECT_CREATE, Subject.PROJECT, name, {"description": project.description})
        return project

    @endpoint("read")
    def list_projects(self) -> list[Project]:
        """Every project (their names are not secret; what they hold is)."""
        with self.ctx.db.read() as conn:
            return [Project(r.name, r.description, r.created_by, r.created_ms)
                    for r in conn.execute(select(projects).order_by(projects.c.name))]

    @endpoint("admin")
    def bind(self, user: str, role: str, project: str) -> RoleBinding:
        """Grant ``user`` the ``role`` in ``project`` only (idempotent)."""
        with self.ctx.db.write() as conn:
            found = self._user(conn, user)
            _project_row(conn, project)
            existing = conn.execute(select(role_bindings).where(
                role_bindings.c.user_id == found.id, role_bindings.c.role == _role(role),
                role_bindings.c.project == project)).first()
            if existing is not None:
                return RoleBinding(user, role, project, existing.bound_by, existing.created_ms)
            binding = RoleBinding(user, role, project, self.ctx.principal.name, now_ms())
            conn.execute(role_bindings.insert().values(user_id=found.id, role=role, project=project,
                                                       bound_by=binding.bound_by, created_ms=binding.created_ms))
            self.ctx.audit(conn, Action.USER_BIND, Subject.USER, user, {"role": role, "project": project})
        access_changed()
        return binding

    @endpoint("admin")
    def unbind(self, user: str, role: str, project: str) -> None:
        """Take ``role`` in ``project`` away from ``user``; NotFound if it was not bound."""
        with self.ctx.db.write() as conn:
            found = self._user(conn, user)
            result = conn.execute(role_bindings.delete().where(
                role_bindings.c.user_id == found.id, role_bindings.c.role == _role(role),
                role_bindings.c.project == project))
            if not result.rowcount:
                raise NotFound(f"{user} is not bound to {role} in project {project!r}")
            self.ctx.audit(conn, Action.USER_UNBIND, Subject.USER, user, {"role": role, "project": project})
        access_changed()

    @endpoint("read")
    def bindings(self, user: str | None = None) -> list[RoleBinding]:
        """The per-project bindings of ``user`` (default: the caller); another user's need admin."""
        me = self.ctx.principal
        name = user or me.name
        if name != me.name:
            me.require("admin", f"list the bindings of {name}")
        query = (select(role_bindings, users.c.name).join(users, users.c.id == role_bindings.c.user_id)
                 .where(users.c.name == name).order_by(role_bindings.c.project, role_bindings.c.role))
        with self.ctx.db.read() as conn:
            return [RoleBinding(r.name, r.role, r.project, r.bound_by, r.created_ms) for r in conn.execute(query)]

    def _user(self, conn: Connection, name: str) -> Any:
        row = user_row(conn, name)
        if row is None:
            raise NotFound(f"user {name!r} does not exist")
        return row
