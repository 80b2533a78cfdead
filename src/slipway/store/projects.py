"""Which project owns an object, for authorising project-scoped principals.

A project is the unit a product team owns: experiments (and their runs), datasets, registered
models (and their versions, approvals, cards), deployments, monitors (and their runs and alerts),
feature views, pipeline runs, schedules and triggers carry a ``project`` column; children inherit
their parent's. Objects made before projects existed, and those made without naming one, belong
to ``default``.

Each backend declares a :class:`ProjectScope`: which of its arguments name an object (and how to
find that object's project) and which of its methods are listings that filter themselves. The
:func:`slipway.core.auth.endpoint` decorator asks it, for a principal holding the endpoint's
permission only through project bindings, which projects a call touches. Resolution is
deliberately conservative: an argument naming an object that does not exist counts as the call's
``project`` argument (creation) or ``default``, so an unknown name never opens a door.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, Select, select

from slipway.core.auth import MISSING_OBJECT, Principal
from slipway.core.errors import NotFound
from slipway.store.database import Database
from slipway.store.owners import owners_of
from slipway.store.schema.data import datasets
from slipway.store.schema.deploy import deployments
from slipway.store.schema.features import feature_definitions
from slipway.store.schema.governance import approval_requests, policy_checks
from slipway.store.schema.identity import projects
from slipway.store.schema.monitoring import monitors
from slipway.store.schema.pipelines import pipeline_runs, pipeline_schedules, pipeline_triggers
from slipway.store.schema.registry import registered_models
from slipway.store.schema.tracking import experiments

DEFAULT_PROJECT = "default"
T = TypeVar("T")

# (connection, argument value) -> the projects the value names (empty: no such object).
Resolver = Callable[[Connection, Any], set[str]]


def _values(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


def by_column(name_column: Column, *, also: Column | None = None) -> Resolver:
    """A resolver looking values up in ``name_column`` (or ``also``, e.g. an id) of its table."""
    table = name_column.table

    def resolve(conn: Connection, value: Any) -> set[str]:
        wanted = _values(value)
        if not wanted:
            return set()
        where = name_column.in_(wanted) if also is None else name_column.in_(wanted) | also.in_(wanted)
        return {row[0] for row in conn.execute(select(table.c.project).where(where))}

    return resolve


def model_of_ref(ref: Any) -> str | None:
    """The model name in a reference (``name@alias``, ``name/3``, ``models:/…``), without checking it."""
    if not isinstance(ref, str):
        return None
    text = ref.strip().removeprefix("models:/")
    return text.partition("@")[0] if "@" in text else text.rpartition("/")[0] or text


model_project = by_column(registered_models.c.name)
experiment_project = by_column(experiments.c.name, also=experiments.c.id)
dataset_project = by_column(datasets.c.name)
deployment_project = by_column(deployments.c.name)
monitor_project = by_column(monitors.c.name)
feature_project = by_column(feature_definitions.c.name)
pipeline_run_project = by_column(pipeline_runs.c.id)


def schedule_or_trigger_project(conn: Connection, value: Any) -> set[str]:
    """Names or ids of schedules and triggers (they share one name space) → their projects."""
    wanted = _values(value)
    if not wanted:
        return set()
    found: set[str] = set()
    for table in (pipeline_schedules, pipeline_triggers):
        where = table.c.name.in_(wanted) | table.c.id.in_(wanted)
        found |= {row[0] for row in conn.execute(select(table.c.project).where(where))}
    return found


def _owned(kind: str) -> Resolver:
    """A resolver of ids of ``kind`` to their projects, through :data:`slipway.store.owners.OWNERS`."""

    def resolve(conn: Connection, value: Any) -> set[str]:
        return set(owners_of(conn, kind, _values(value)).values())

    return resolve


alert_project = _owned("alert")  # alert ids → the projects of their monitors


def ref_project(conn: Connection, value: Any) -> set[str]:
    names = [n for n in (model_of_ref(v) for v in _values(value)) if n]
    return model_project(conn, names)


run_project = _owned("run")  # run ids → the projects of their experiments


def _model_column_project(column: Column) -> Resolver:
    """A resolver for ids of a governance table whose ``model`` column names the model."""

    def resolve(conn: Connection, value: Any) -> set[str]:
        wanted = _values(value)
        if not wanted:
            return set()
        models = [row[0] for row in conn.execute(select(column.table.c.model).where(column.in_(wanted)))]
        return model_project(conn, models)

    return resolve


request_project = _model_column_project(approval_requests.c.id)
check_project = _model_column_project(policy_checks.c.id)


def dataset_version_project(conn: Connection, value: Any) -> set[str]:
    """``name@3`` / ``name:3`` / ``name`` → the dataset's project."""
    names = [v.replace(":", "@").partition("@")[0] for v in _values(value)]
    return dataset_project(conn, names)


@dataclasses.dataclass(frozen=True)
class ProjectScope:
    """How a backend's calls map to projects.

    Attributes:
        keys: argument name → resolver of the project(s) of the object it names.
        listings: methods that return only what the principal may read (they filter themselves).
        open: methods any principal holding the permission somewhere may call (e.g. ``whoami``).
        extra: a resolver over all the arguments, for shapes ``keys`` cannot express.
        methods: per-method keys, used instead of ``keys`` for that method.
    """

    keys: Mapping[str, Resolver]
    listings: frozenset[str] = frozenset()
    open: frozenset[str] = frozenset()
    extra: Callable[[Connection, dict[str, Any]], set[str]] | None = None
    methods: Mapping[str, Mapping[str, Resolver]] = dataclasses.field(default_factory=dict)

    def projects_of(self, db: Database, method: str, arguments: dict[str, Any]) -> frozenset[str] | None:
        if method in self.listings or method in self.open:
            return None
        found: set[str] = set()
        named = False
        missing = False  # an argument names an object that does not exist (yet)
        with db.read() as conn:
            for key, resolve in self.methods.get(method, self.keys).items():
                if key in arguments and arguments[key] is not None:
                    named = True
                    projects_named = resolve(conn, arguments[key])
                    missing = missing or not projects_named
                    found |= projects_named
            if self.extra is not None:
                found |= self.extra(conn, arguments)
        project = arguments.get("project")
        project = project if isinstance(project, str) and project else None
        if not named and not found:
            # Names no object: only a global role may make it, unless it names its project.
            return frozenset({project}) if project else frozenset()
        if missing or not found:
            # Creation, or a name that does not exist: the call acts in the project it names, or
            # (decided by the endpoint: a read may go on to NotFound) in the workspace's.
            found.add(project or MISSING_OBJECT)
        return frozenset(found)


def scoped_by(scope: ProjectScope) -> Callable[[Any, str, dict[str, Any]], frozenset[str] | None]:
    """The ``_projects_of`` method a backend class sets from its scope."""

    def _projects_of(self: Any, method: str, arguments: dict[str, Any]) -> frozenset[str] | None:
        return scope.projects_of(self.ctx.db, method, arguments)

    return _projects_of


def readable(principal: Principal, query: Select, column: Column, permission: str = "read") -> Select:
    """``query`` limited to the rows of projects where ``principal`` holds ``permission``."""
    projects = principal.projects_where(permission)
    return query if projects is None else query.where(column.in_(sorted(projects)))


def readable_names(principal: Principal, conn: Connection, column: Column, names: Iterable[str]) -> set[str]:
    """The subset of ``names`` (values of ``column``'s table name column) the principal may read."""
    projects = principal.projects_where("read")
    wanted = list(dict.fromkeys(names))
    if projects is None:
        return set(wanted)
    table = column.table
    query = select(column).where(column.in_(wanted), table.c.project.in_(sorted(projects)))
    return {row[0] for row in conn.execute(query)}


def owning_project(conn: Connection, project: str | None, fallback: str = DEFAULT_PROJECT) -> str:
    """The project a new object goes to (``project`` or ``fallback``); NotFound if it does not exist."""
    name = project or fallback or DEFAULT_PROJECT
    if name != DEFAULT_PROJECT and conn.execute(select(projects.c.name).where(projects.c.name == name)).first() is None:
        raise NotFound(f"project {name!r} does not exist; create it with `slipway projects create {name}`")
    return name


def keep_readable_models(principal: Principal, conn: Connection, items: list[T], model_of: Callable[[T], str]) -> list[T]:
    """``items`` without those about models the principal may not read."""
    if principal.projects_where("read") is None:
        return items
    allowed = readable_names(principal, conn, registered_models.c.name, [model_of(i) for i in items])
    return [i for i in items if model_of(i) in allowed]
