"""``slipway apply``: the plan that makes the live platform match a folder, and applying it.

:func:`plan` reads the live state through the workspace (embedded or remote alike) and compares
it with the folder, object by object: ``add``, ``change`` (with the differing fields),
``delete`` (only with ``prune``), ``extra`` (live, not in the folder, kept without ``prune``)
and ``unchanged``; deletes come first in the plan, as they are carried out first. :func:`apply`
carries out the pending changes, then records the folder's Git commit and the changes in the
audit ledger (``platform.apply``). Applying twice changes nothing the second time;
:attr:`PlatformPlan.drifted` is what ``--check`` fails on.

Projects and role bindings are planned when the folder declares any (:mod:`slipway.gitops.access`);
they come first, so that a project exists before what it owns. Deployments, monitors, schedules and
triggers are created in the project their ``project`` key names; an object does not move between
projects in place (a schedule or trigger is recreated; a deployment or monitor is refused).

Every kind but ``project`` can be deleted with ``prune``. Deleting keeps the object's history, which is
evidence: a deployment stops serving (status ``deleted``, no variants), a monitor stops running
(its runs and alerts stay), a policy gets an empty revision (retired), a webhook is deactivated
(its delivery log stays), a schedule or trigger is removed (its runs stay).
"""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from slipway.core.environment import environment
from slipway.core.errors import Conflict, InvalidInput
from slipway.deploy.spec import parse_spec
from slipway.gitops import access
from slipway.gitops.folder import PlatformFolder, load_folder
from slipway.monitoring.monitor_spec import parse_monitor
from slipway.webhooks.subscriptions import redact_url
from slipway.workspace import Workspace

PENDING = ("add", "change", "delete")
# Adds and changes go in this order (a monitor may watch a deployment, a trigger fire on a
# monitor's alerts); deletes in the reverse one, and before anything else.
ORDER = ("project", "binding", "policy", "deployment", "monitor", "schedule", "trigger", "webhook")
DELETE_NOTES = {
    "binding": "the role is taken away (unbound in the project, or removed from the user's global roles)",
    "deployment": "stops serving; its history, payload log and feedback are kept",
    "monitor": "stops running; its runs and alerts are kept (open alerts resolved)",
    "policy": "retired: an empty revision; earlier revisions and policies fixed on requests are kept",
    "webhook": "deactivated; its delivery log is kept",
    "schedule": "removed; its pipeline runs are kept",
    "trigger": "removed; its pipeline runs are kept",
}


@dataclass
class PlanItem:
    kind: str
    name: str
    action: str  # add | change | delete | extra | unchanged
    diff: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class PlatformPlan:
    folder: str
    commit: str | None
    dirty: bool
    prune: bool
    items: list[PlanItem]
    applied: bool = False

    @property
    def pending(self) -> list[PlanItem]:
        return [i for i in self.items if i.action in PENDING]

    @property
    def drifted(self) -> bool:
        """The live state differs from the folder (anything to add, change or delete, or extra)."""
        return any(i.action in (*PENDING, "extra") for i in self.items)

    def as_dict(self) -> dict[str, Any]:
        return {"folder": self.folder, "commit": self.commit, "dirty": self.dirty, "prune": self.prune,
                "applied": self.applied, "drifted": self.drifted,
                "changes": [{"kind": i.kind, "name": i.name, "action": i.action, "diff": i.diff, "note": i.note}
                            for i in self.items]}


def git_commit(folder: str) -> tuple[str | None, bool]:
    """The commit checked out in the folder's repository, and whether the folder has uncommitted
    changes; ``(None, False)`` outside a Git repository."""
    try:
        head = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
        if head.returncode != 0:
            return None, False
        # Python writes bytecode beside a feature repository it imports: not a change to the folder.
        status = subprocess.run(["git", "-C", folder, "status", "--porcelain", "--", ".",
                                 ":(exclude,glob)**/__pycache__/**", ":(exclude,glob)**/*.pyc"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None, False
    return head.stdout.strip(), bool(status.stdout.strip())


def _show(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _diff(live: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    lines = []
    for key in sorted(set(live) | set(desired)):
        if live.get(key) != desired.get(key):
            if key in live:
                lines.append(f"- {key}: {_show(live[key])}")
            if key in desired:
                lines.append(f"+ {key}: {_show(desired[key])}")
    return lines


def _compare(kind: str, desired: dict[str, dict[str, Any]], live: dict[str, dict[str, Any]], prune: bool) -> list[PlanItem]:
    items = []
    for name, spec in sorted(desired.items()):
        if name not in live:
            items.append(PlanItem(kind, name, "add", _diff({}, spec)))
        elif live[name] != spec:
            items.append(PlanItem(kind, name, "change", _diff(live[name], spec)))
        else:
            items.append(PlanItem(kind, name, "unchanged"))
    for name in sorted(set(live) - set(desired)):
        if kind == "project":
            items.append(PlanItem(kind, name, "extra", note=access.PROJECT_KEPT))
            continue
        items.append(PlanItem(kind, name, "delete" if prune else "extra",
                              note=DELETE_NOTES.get(kind, "") if prune else "not in the folder; --prune deletes it"))
    for item in items:
        if item.action == "change" and kind in ("deployment", "monitor") and "project" in desired[item.name] \
                and desired[item.name]["project"] != live[item.name].get("project"):
            item.note = f"a {kind} does not move between projects; apply refuses this change"
    return items


def _deletes_first(items: list[PlanItem]) -> list[PlanItem]:
    """Deletes first (in reverse dependency order), then everything else in its order."""
    rank = {kind: index for index, kind in enumerate(reversed(ORDER))}
    deletes = sorted((i for i in items if i.action == "delete"),
                     key=lambda i: (rank.get(i.kind, len(ORDER)), i.kind, i.name))
    return deletes + [i for i in items if i.action != "delete"]


def _project(spec: dict[str, Any]) -> dict[str, Any]:
    return {"project": spec["project"]} if spec.get("project") else {}


def in_project(ws: Workspace, project: str | None) -> Workspace:
    """``ws`` acting in ``project`` (over the same connection), for creating what the project owns."""
    if not project or project == ws.settings.project:
        return ws
    return Workspace(dataclasses.replace(ws.settings, project=project), ws._transport)


class _Live:
    """The live objects of each kind, normalised as the folder's are."""

    def __init__(self, ws: Workspace, folder: PlatformFolder) -> None:
        self.ws, self.folder = ws, folder
        self.webhook_ids: dict[str, str] = {}
        self.bindings: dict[str, Any] = {}

    def projects(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return access.projects(self.ws, self.folder) if access.manages_access(self.folder) else ({}, {})

    def role_bindings(self) -> tuple[dict[str, Any], dict[str, Any]]:
        if not access.manages_access(self.folder):
            return {}, {}
        desired, self.bindings = access.bindings(self.ws, self.folder)
        return desired, self.bindings

    def _owned(self, kind: str, live: dict[str, dict[str, Any]], projects: dict[str, str]) -> dict[str, Any]:
        """``live`` with each object's project where the folder names one (compared only then)."""
        declared = self.folder.of(kind)
        return {name: {**spec, "project": projects[name]} if declared.get(name, {}).get("project") else spec
                for name, spec in live.items()}

    def deployments(self) -> tuple[dict[str, Any], dict[str, Any]]:
        desired = {n: parse_spec(s) for n, s in self.folder.of("deployment").items()}
        found = self.ws.serving.list_deployments()
        live = {d.name: {k: v for k, v in d.spec.items() if k != "project"} for d in found}
        return desired, self._owned("deployment", live, {d.name: d.project for d in found})

    def monitors(self) -> tuple[dict[str, Any], dict[str, Any]]:
        desired = {}
        for name, spec in self.folder.of("monitor").items():
            parsed = parse_monitor({k: v for k, v in spec.items() if k != "project"})
            desired[name] = {**parsed, "project": spec["project"]} if spec.get("project") else parsed
        found = self.ws.monitoring.monitors()
        return desired, self._owned("monitor", {m.name: m.spec for m in found}, {m.name: m.project for m in found})

    def _stored(self, spec: dict[str, Any], sample: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        # The pipeline resolved, validated and its source stored as the scheduler will run it.
        ref, _, params = self.ws.pipelines._prepare(spec["pipeline"], spec.get("params") or {}, sample)
        return ref, params

    def schedules(self) -> tuple[dict[str, Any], dict[str, Any]]:
        desired = {}
        for name, spec in self.folder.of("schedule").items():
            ref, params = self._stored(spec, None)
            desired[name] = {"pipeline": ref, "cron": spec.get("cron"), "params": params,
                             "runner": spec.get("runner", "inprocess"), "catchup": bool(spec.get("catchup", False)),
                             "enabled": bool(spec.get("enabled", True)), **_project(spec)}
        found = self.ws.pipelines.list_schedules()
        live = {s.name: {"pipeline": s.pipeline, "cron": s.cron, "params": s.params, "runner": s.runner,
                         "catchup": s.catchup, "enabled": s.enabled} for s in found}
        return desired, self._owned("schedule", live, {s.name: s.project for s in found})

    def triggers(self) -> tuple[dict[str, Any], dict[str, Any]]:
        desired = {}
        for name, spec in self.folder.of("trigger").items():
            param = spec.get("param") or ("dataset" if spec["event"] == "dataset" else "alert")
            sample = {param: f"{spec.get('target')}@1" if spec["event"] == "dataset" else "alert-id"}
            ref, params = self._stored(spec, sample)
            desired[name] = {"event": spec["event"], "target": spec.get("target"), "pipeline": ref, "params": params,
                             "param": param, "runner": spec.get("runner", "inprocess"),
                             "enabled": bool(spec.get("enabled", True)), **_project(spec)}
        found = self.ws.pipelines.list_triggers()
        live = {t.name: {"event": t.kind, "target": t.target, "pipeline": t.pipeline, "params": t.params,
                         "param": t.param, "runner": t.runner, "enabled": t.enabled} for t in found}
        return desired, self._owned("trigger", live, {t.name: t.project for t in found})

    def policies(self) -> tuple[dict[str, Any], dict[str, Any]]:
        desired = {name: spec["policy"] for name, spec in self.folder.of("policy").items()}
        return desired, {f"{p.scope}:{p.target}": yaml.safe_load(p.source) for p in self.ws.governance.list_policies()}

    def webhooks(self) -> tuple[dict[str, Any], dict[str, Any]]:
        # A webhook's URL is stored sealed and listed redacted (its path is often a credential), so
        # a declared webhook is matched by its redacted URL and type.
        desired: dict[str, Any] = {}
        keys: dict[str, str] = {}
        for name, spec in self.folder.of("webhook").items():
            key = f"{spec.get('type', 'generic')} {redact_url(spec['url'])}"
            if key in keys:
                raise InvalidInput(f"webhooks {keys[key]!r} and {name!r} both point at {key}; one per host and type")
            keys[key] = name
            desired[name] = {"target": key, "events": sorted(set(spec["events"]))}
        live = {}
        for hook in self.ws.governance.list_webhooks():
            if not hook.active:
                continue
            key = f"{hook.kind} {hook.url}"
            name = keys.get(key, key)
            live[name] = {"target": key, "events": sorted(hook.event_types)}
            self.webhook_ids[name] = hook.id
        return desired, live


def plan(ws: Workspace, folder: str, prune: bool = False) -> PlatformPlan:
    """What :func:`apply` would change; nothing in the platform is written.

    Raises:
        NotFound, InvalidInput: the folder or one of its objects is not usable (named).
    """
    return _plan(ws, folder, prune)[0]


def _plan(ws: Workspace, folder: str, prune: bool) -> tuple[PlatformPlan, PlatformFolder, _Live]:
    loaded = load_folder(folder)
    for name, spec in loaded.of("webhook").items():
        variable = spec.get("secret_env")
        if variable and variable not in environment():
            raise InvalidInput(f"webhook {name!r} takes its secret from ${variable}, which is not set")
    if access.manages_access(loaded) or any(s.get("project") for k in ("deployment", "monitor", "schedule", "trigger")
                                            for s in loaded.of(k).values()):
        access.check_projects(ws, loaded)
    live = _Live(ws, loaded)
    items: list[PlanItem] = []
    if loaded.features is not None:
        features = ws.features.plan(loaded.features, prune=prune)
        actions = {"add": "add", "new_version": "change", "update": "change", "remove": "delete", "kept": "extra",
                   "unchanged": "unchanged"}
        items += [PlanItem(f"feature.{c.kind}", c.name, actions[c.action], [f"~ {f}" for f in c.fields],
                           note=f"version {c.previous} -> {c.version}" if c.action == "new_version" else "")
                  for c in features.changes]
    readers = {"project": live.projects, "binding": live.role_bindings, "policy": live.policies, "deployment": live.deployments, "monitor": live.monitors,
               "schedule": live.schedules, "trigger": live.triggers, "webhook": live.webhooks}
    for kind in ORDER:
        desired, current = readers[kind]()
        items += _compare(kind, desired, current, prune)
    commit, dirty = git_commit(str(loaded.path))
    return PlatformPlan(str(loaded.path), commit, dirty, prune, _deletes_first(items)), loaded, live


def apply(ws: Workspace, folder: str, prune: bool = False) -> PlatformPlan:
    """Make the live platform match ``folder`` (deleting only with ``prune``); returns the plan it
    carried out. Each object is applied through its own API (and its own permission and audit
    event); then one ``platform.apply`` event records the commit and every change.
    """
    result, loaded, live = _plan(ws, folder, prune)
    pending = result.pending
    moved = [i for i in pending if i.action == "change" and i.kind in ("deployment", "monitor") and i.note]
    if moved:  # refused before anything is written
        raise Conflict(f"{moved[0].kind} {moved[0].name!r}: {moved[0].note} ({'; '.join(moved[0].diff)}); delete it "
                       "(remove it from the folder, apply --prune) and declare it under a new name")
    platform = [i for i in pending if not i.kind.startswith("feature.")]
    for item in platform:  # deletes first: what used a removed feature view goes before it
        if item.action == "delete":
            _apply_one(ws, loaded, live, item)
    if any(i.kind.startswith("feature.") for i in pending) and loaded.features is not None:
        ws.features.apply(loaded.features, prune=prune)
    for item in platform:
        if item.action != "delete":
            _apply_one(ws, loaded, live, item)
    if pending:
        ws.governance.record_platform_apply(result.folder, result.commit, result.dirty,
                                            [{"kind": i.kind, "name": i.name, "action": i.action} for i in pending])
    result.applied = True
    return result


def _apply_one(ws: Workspace, loaded: PlatformFolder, live: _Live, item: PlanItem) -> None:
    spec = loaded.of(item.kind).get(item.name, {})
    owner = in_project(ws, spec.get("project")) if item.kind in ("monitor", "schedule", "trigger") else ws
    pipes = owner.pipelines
    if item.kind == "project":
        access.apply_project(ws, loaded, item.name, item.action)
    elif item.kind == "binding":
        access.apply_binding(ws, spec or live.bindings[item.name], item.action)
    elif item.kind == "policy":
        scope, _, target = item.name.partition(":")
        if item.action == "delete":
            ws.governance.retire_policy(**{scope: target})
        else:
            ws.governance.set_policy(yaml.safe_dump(spec["policy"], sort_keys=False), **{scope: target})
    elif item.kind == "deployment" and item.action == "delete":
        ws.serving.delete(item.name, "removed from the platform folder")
    elif item.kind == "deployment":
        ws.serving.apply(spec)
    elif item.kind == "monitor" and item.action == "delete":
        ws.monitoring.delete_monitor(item.name)
    elif item.kind == "monitor":
        owner.monitoring.apply({k: v for k, v in spec.items() if k != "project"})
    elif item.kind in ("schedule", "trigger") and item.action == "delete":
        pipes.delete(item.name)
    elif item.kind == "schedule":
        args = {"cron": spec["cron"], "params": spec.get("params") or {}, "runner": spec.get("runner", "inprocess"),
                "catchup": bool(spec.get("catchup", False))}
        if item.action == "change" and any(line.startswith("+ project:") for line in item.diff):
            pipes.delete(item.name)  # moves to another project: recreate it there
            item = dataclasses.replace(item, action="add")
        if item.action == "add":
            pipes.schedule(item.name, spec["pipeline"], **args)
        else:
            pipes.update_schedule(item.name, spec["pipeline"], **args)
        _set_enabled(ws, item.name, bool(spec.get("enabled", True)))
    elif item.kind == "trigger":
        if item.action == "change":
            pipes.delete(item.name)  # kind, target or baseline may change: recreate it
        create = pipes.on_dataset if spec["event"] == "dataset" else pipes.on_alert
        param = spec.get("param") or ("dataset" if spec["event"] == "dataset" else "alert")
        create(item.name, spec["target"], spec["pipeline"], spec.get("params") or {}, param,
               spec.get("runner", "inprocess"))
        _set_enabled(ws, item.name, bool(spec.get("enabled", True)))
    elif item.kind == "webhook":
        if item.action in ("change", "delete"):
            ws.governance.set_webhook_active(live.webhook_ids[item.name], False)
        if item.action in ("add", "change"):
            variable = spec.get("secret_env")
            secret = environment()[variable] if variable else None
            ws.governance.add_webhook(spec["url"], list(spec["events"]), spec.get("type", "generic"), secret)


def _set_enabled(ws: Workspace, name: str, enabled: bool) -> None:
    sources: list[Any] = [*ws.pipelines.list_schedules(), *ws.pipelines.list_triggers()]
    current = next((s.enabled for s in sources if s.name == name), enabled)
    if current != enabled:
        (ws.pipelines.enable if enabled else ws.pipelines.disable)(name)
