"""Reading a platform folder: the objects ``slipway apply`` makes the live platform match.

Every ``*.yaml``/``*.yml`` file under the folder (except ``features/``) holds one or more YAML
documents, each an object with a ``kind``:

- ``project``: ``name``, optional ``description`` (a team's unit of ownership);
- ``binding``: ``user``, ``role`` or ``roles``, optional ``project`` — the user holds each role in
  that project only, or, without ``project``, everywhere (global roles). One object per role,
  named ``USER:ROLE@PROJECT`` (or ``USER:ROLE``);
- ``deployment``: a deployment spec (as ``slipway deploy apply`` takes), ``name`` and ``variants``;
- ``monitor``: a monitor spec (as ``slipway monitors apply`` takes);
- ``schedule``: ``name``, ``pipeline`` (``file.py:name``, relative to the folder, or
  ``module:name``), ``cron``, optional ``params``, ``runner``, ``catchup``, ``enabled``;
- ``trigger``: ``name``, ``event`` (``dataset`` or ``alert``), ``target`` (the dataset or
  monitor), ``pipeline``, optional ``params``, ``param``, ``runner``, ``enabled``;

Deployments, monitors, schedules and triggers take an optional ``project``: the project that owns
them (default: the deployment's stable model's project, or the applying workspace's).
- ``webhook``: ``name``, ``url``, ``events``, optional ``type`` and ``secret_env`` — the NAME of
  the environment variable holding its secret when applied. A literal ``secret`` is refused:
  secrets are referenced, never stored in the folder;
- ``policy``: ``tier`` or ``model`` (what it governs; its name is ``tier:NAME`` or
  ``model:NAME``) and ``policy``, the policy as a YAML mapping (docs/governance.md).

``features/`` is a feature repository, planned and applied by the feature store itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slipway.core.auth import ROLES
from slipway.core.errors import InvalidInput, NotFound
from slipway.core.names import check_name
from slipway.core.yaml_errors import yaml_problem

KINDS = ("feature", "project", "binding", "deployment", "monitor", "schedule", "trigger", "webhook", "policy")
OWNED = ("deployment", "monitor", "schedule", "trigger")  # kinds a project owns (their ``project`` key)
_FIELDS = {
    "project": {"kind", "name", "description"},
    "binding": {"kind", "user", "role", "roles", "project"},
    "schedule": {"kind", "name", "pipeline", "cron", "params", "runner", "catchup", "enabled", "project"},
    "trigger": {"kind", "name", "event", "target", "pipeline", "params", "param", "runner", "enabled", "project"},
    "webhook": {"kind", "name", "url", "events", "type", "secret_env"},
    "policy": {"kind", "name", "tier", "model", "policy"},
}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class PlatformFolder:
    """The folder's objects: ``objects[kind][name]`` is the spec as written (``kind`` removed)."""

    path: Path
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    features: Path | None = None

    def of(self, kind: str) -> dict[str, dict[str, Any]]:
        return self.objects.get(kind, {})


def _documents(path: Path) -> list[Any]:
    try:
        return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as err:
        raise InvalidInput(f"{path} is not valid YAML: {yaml_problem(err)}") from err


def _check(kind: str, spec: dict[str, Any], where: str, folder: Path) -> dict[str, Any]:
    if kind in _FIELDS:
        unknown = sorted(str(k) for k in set(spec) - _FIELDS[kind])
        if "secret" in unknown:
            raise InvalidInput(f"{where}: a webhook's secret must not be written in the folder; name the environment "
                               "variable that holds it with secret_env")
        if unknown:
            raise InvalidInput(f"{where}: unknown key(s) {', '.join(unknown)} for a {kind} "
                               f"(known: {', '.join(sorted(_FIELDS[kind] - {'kind'}))})")
    if kind in OWNED and spec.get("project") is not None:
        check_name(spec["project"], f"{where}: project")
    if kind in ("schedule", "trigger"):
        pipeline = spec.get("pipeline")
        if not isinstance(pipeline, str) or ":" not in pipeline:
            raise InvalidInput(f"{where}: pipeline must be 'path/to/file.py:name' or 'module:name', got {pipeline!r}")
        file, _, attr = pipeline.rpartition(":")
        if file.endswith(".py"):  # relative to the folder, so the repository is self-contained
            located = (folder / file).resolve()
            if not located.is_file():
                raise NotFound(f"{where}: pipeline file {file} does not exist in {folder}")
            spec = {**spec, "pipeline": f"{located}:{attr}"}
    if kind == "trigger" and spec.get("event") not in ("dataset", "alert"):
        raise InvalidInput(f"{where}: a trigger's 'event' must be dataset or alert, got {spec.get('event')!r}")
    if kind == "webhook":
        if not isinstance(spec.get("url"), str) or not isinstance(spec.get("events"), list):
            raise InvalidInput(f"{where}: a webhook needs a url and a list of events")
        env = spec.get("secret_env")
        if env is not None and (not isinstance(env, str) or not _ENV_NAME.match(env)):
            raise InvalidInput(f"{where}: secret_env must be an environment variable's name, got {env!r}")
    return spec


def _policy_named(document: dict[str, Any], where: str) -> dict[str, Any]:
    scopes = [s for s in ("tier", "model") if document.get(s)]
    if len(scopes) != 1 or not isinstance(document[scopes[0]], str):
        raise InvalidInput(f"{where}: a policy governs exactly one tier or one model (tier: NAME or model: NAME)")
    if not isinstance(document.get("policy"), dict):
        raise InvalidInput(f"{where}: a policy needs 'policy', the policy itself as a mapping")
    return {**document, "name": f"{scopes[0]}:{document[scopes[0]]}"}


def binding_name(user: str, role: str, project: str | None) -> str:
    """How a binding object is named in the plan: ``USER:ROLE@PROJECT``, or ``USER:ROLE`` for a global role."""
    return f"{user}:{role}@{project}" if project else f"{user}:{role}"


def _bindings(document: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """A ``binding`` document as one object per role."""
    _check("binding", document, where, Path())
    user, project = document.get("user"), document.get("project")
    roles = document.get("roles", [document["role"]] if "role" in document else None)
    if ("role" in document) == ("roles" in document):
        raise InvalidInput(f"{where}: a binding names its role (role: NAME) or its roles (roles: [NAME, ...])")
    if not isinstance(user, str) or not user:
        raise InvalidInput(f"{where}: a binding needs the user it binds (user: NAME)")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles):
        raise InvalidInput(f"{where}: roles must be a non-empty list of role names, got {roles!r}")
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(f"{where}: unknown role(s) {', '.join(unknown)}; choose from {', '.join(ROLES)}")
    if project is not None:
        check_name(project, f"{where}: project")
    return [{"name": binding_name(user, role, project), "user": user, "role": role, "project": project or None}
            for role in roles]


def load_folder(folder: str | Path) -> PlatformFolder:
    """Read and check every object of a platform folder.

    Raises:
        NotFound: the folder (or a pipeline file it names) does not exist.
        InvalidInput: bad YAML, an unknown kind or key, a name declared twice, a literal secret.
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotFound(f"platform folder {folder} does not exist")
    found = PlatformFolder(root.resolve())
    features = root / "features"
    found.features = features if features.is_dir() else None
    for path in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
        relative = path.relative_to(root)
        if relative.parts[0] in ("features", ".git"):
            continue
        for number, document in enumerate(_documents(path), start=1):
            where = f"{relative} (document {number})"
            if not isinstance(document, dict) or document.get("kind") not in KINDS[1:]:
                kind = document.get("kind") if isinstance(document, dict) else None
                raise InvalidInput(f"{where}: kind must be one of {', '.join(KINDS[1:])}, got {kind!r}")
            kind = document["kind"]
            if kind == "binding":
                for binding in _bindings(document, where):
                    if binding["name"] in found.objects.setdefault(kind, {}):
                        raise InvalidInput(f"{where}: binding {binding['name']!r} is declared twice")
                    found.objects[kind][binding["name"]] = binding
                continue
            if kind == "policy":
                document = _policy_named(document, where)
            name = document.get("name")
            if not isinstance(name, str) or not name:
                raise InvalidInput(f"{where}: a {kind} needs a name")
            if name in found.objects.setdefault(kind, {}):
                raise InvalidInput(f"{where}: {kind} {name!r} is declared twice")
            spec = _check(kind, document, where, root.resolve())
            found.objects[kind][name] = {k: v for k, v in spec.items() if k != "kind"}
    return found
