"""Projects and role bindings declared in a platform folder: their live state, and applying them.

A folder that declares no ``project`` and no ``binding`` leaves access alone. One that declares
any manages:

- the projects: each declared one is created if missing (its description is set on creation).
  A live project the folder does not declare is drift (``extra``); ``apply`` never deletes a
  project, even with ``--prune``, since it owns objects and their history;
- the per-project bindings in every project the folder names (declared, or named by a binding),
  and every per-project binding of the users it names;
- the global roles of the users it names (a user named only in project bindings holds no global
  role: one granted outside Git is drift, and ``--prune`` takes it away).

Users themselves (and their keys, tokens and passwords) are not in the folder: a binding naming a
user that does not exist is refused before anything is changed.
"""

from __future__ import annotations

from typing import Any

from slipway.core.errors import InvalidInput, NotFound
from slipway.gitops.folder import OWNED, PlatformFolder, binding_name
from slipway.store.projects import DEFAULT_PROJECT
from slipway.workspace import Workspace

PROJECT_KEPT = "projects are never deleted by apply (they own objects and their history); declare it in the folder"


def manages_access(folder: PlatformFolder) -> bool:
    return bool(folder.of("project") or folder.of("binding"))


def live_projects(ws: Workspace) -> set[str]:
    return {p.name for p in ws.identity.list_projects()}


def check_projects(ws: Workspace, folder: PlatformFolder) -> None:
    """Every project a binding or a project-owned object names is declared in the folder or exists.

    Raises:
        NotFound: naming the object and the project.
    """
    known = set(folder.of("project")) | live_projects(ws) | {DEFAULT_PROJECT}
    named = [(f"binding {name}", spec.get("project")) for name, spec in folder.of("binding").items()]
    named += [(f"{kind} {name}", spec.get("project")) for kind in OWNED for name, spec in folder.of(kind).items()]
    for what, project in named:
        if project and project not in known:
            raise NotFound(f"{what}: project {project!r} is neither declared in the folder (kind: project) nor "
                           f"exists; declare it or create it with `slipway projects create {project}`")


def projects(ws: Workspace, folder: PlatformFolder) -> tuple[dict[str, Any], dict[str, Any]]:
    """(declared, live) projects; compared by name only (a description is set on creation)."""
    desired: dict[str, Any] = {name: {} for name in folder.of("project")}
    live: dict[str, Any] = {name: {} for name in live_projects(ws) if name != DEFAULT_PROJECT}
    return desired, live


def bindings(ws: Workspace, folder: PlatformFolder) -> tuple[dict[str, Any], dict[str, Any]]:
    """(declared, live) bindings within what the folder manages (see the module's docstring).

    Raises:
        NotFound: a binding names a user that does not exist.
    """
    declared = folder.of("binding")
    users = {u.name: u for u in ws.identity.list_users()}
    for name, spec in declared.items():
        if spec["user"] not in users:
            raise NotFound(f"binding {name}: user {spec['user']!r} does not exist; create it first "
                           f"(`slipway users create {spec['user']}`)")
    named_users = {spec["user"] for spec in declared.values()}
    named_projects = set(folder.of("project")) | {spec["project"] for spec in declared.values() if spec["project"]}
    desired = {name: {"user": s["user"], "role": s["role"], "project": s["project"]} for name, s in declared.items()}
    live: dict[str, Any] = {}
    for user in sorted(users):
        if user in named_users:
            for role in users[user].roles:
                live[binding_name(user, role, None)] = {"user": user, "role": role, "project": None}
        for bound in ws.identity.bindings(user):
            if user in named_users or bound.project in named_projects:
                live[binding_name(user, bound.role, bound.project)] = {"user": user, "role": bound.role,
                                                                       "project": bound.project}
    return desired, live


def apply_project(ws: Workspace, folder: PlatformFolder, name: str, action: str) -> None:
    if action == "add":
        ws.identity.create_project(name, str(folder.of("project")[name].get("description") or ""))
    else:  # the plan never deletes or changes a project
        raise InvalidInput(f"project {name!r}: {PROJECT_KEPT}")


def apply_binding(ws: Workspace, spec: dict[str, Any], action: str) -> None:
    """Grant (``add``) or take away (``delete``) one role of one user, in a project or globally."""
    user, role, project = spec["user"], spec["role"], spec["project"]
    if project:
        if action == "add":
            ws.identity.bind(user, role, project)
        else:
            ws.identity.unbind(user, role, project)
        return
    current = next(u.roles for u in ws.identity.list_users() if u.name == user)
    roles = sorted({*current, role}) if action == "add" else [r for r in current if r != role]
    ws.identity.set_roles(user, roles)
