"""The feature store backend: versioned definitions, materialisation state, online lookups.

Each public method is an API endpoint (embedded, or ``POST /api/v1/features/<method>``). Applying
definitions writes every changed definition and its audit event in one transaction, so a bad
definition anywhere in the folder changes nothing.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Row, and_, func, select

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput, NotFound
from slipway.core.events import Action, Subject, feature_definition_action
from slipway.core.ids import new_id
from slipway.core.limits import whole_number
from slipway.features.backend_online import OnlineMixin, forget_plans
from slipway.features.plan import diff
from slipway.features.records import FeatureDefinition, FeaturePlan
from slipway.features.spec import KINDS, normalise, schema_digest
from slipway.lineage.nodes import node_exists
from slipway.store.context import ServiceContext
from slipway.store.edges import add_edge
from slipway.store.projects import (
    DEFAULT_PROJECT,
    ProjectScope,
    dataset_version_project,
    feature_project,
    owning_project,
    scoped_by,
)
from slipway.store.schema.features import feature_definitions as defs

MAX_DEFINITIONS = 10_000


def to_definition(row: Row[Any]) -> FeatureDefinition:
    return FeatureDefinition(row.kind, row.name, int(row.version), orjson.loads(row.spec), bool(row.current),
                             row.created_by, int(row.created_ms), int(row.updated_ms),
                             None if row.removed_ms is None else int(row.removed_ms))


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"unknown definition kind {kind!r}; one of {', '.join(KINDS)}")


def _touched(conn: Connection, arguments: dict[str, Any]) -> set[str]:
    """The projects an ``apply`` changes: those owning the definitions it names, and with
    ``prune`` every project holding a definition (pruning removes what the folder lacks)."""
    definitions = arguments.get("definitions")
    if not isinstance(definitions, list):
        return set()
    if arguments.get("prune"):
        return {r[0] for r in conn.execute(select(defs.c.project).where(defs.c.current.is_(True)).distinct())}
    names = [d.get("name") for d in definitions if isinstance(d, dict) and isinstance(d.get("name"), str)]
    return {r[0] for r in conn.execute(select(defs.c.project).where(defs.c.name.in_(names)).distinct())}


# Feature definitions are shared: any principal reading somewhere reads them all (the platform
# team's views serve every team). Changing one needs ``features.write`` in its owner's project; a
# training set is recorded in its dataset's project.
FEATURES_SCOPE = ProjectScope(
    {"view": feature_project, "dataset": dataset_version_project},
    open=frozenset({"get", "list_definitions", "plan", "online", "profile", "status"}),
    extra=_touched,
)


class FeaturesBackend(OnlineMixin):
    _projects_of = scoped_by(FEATURES_SCOPE)

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- definitions ----------------------------------------------------------------------------
    def _diff(self, conn: Connection, definitions: list[dict[str, Any]], prune: bool) -> tuple[list[dict[str, Any]], Any]:
        if not isinstance(definitions, list) or len(definitions) > MAX_DEFINITIONS:
            raise InvalidInput(f"definitions must be a list of at most {MAX_DEFINITIONS} mappings")
        incoming = [normalise(d) for d in definitions]
        if len({(d["kind"], d["name"]) for d in incoming}) != len(incoming):
            raise InvalidInput("a definition is given twice (same kind and name)")
        current = {(r.kind, r.name): (int(r.version), orjson.loads(r.spec))
                   for r in conn.execute(select(defs.c.kind, defs.c.name, defs.c.version, defs.c.spec)
                                         .where(defs.c.current.is_(True)))}
        latest = {(r.kind, r.name): int(r.top) for r in conn.execute(
            select(defs.c.kind, defs.c.name, func.max(defs.c.version).label("top")).group_by(defs.c.kind, defs.c.name))}
        return incoming, diff(incoming, current, latest, bool(prune))

    @endpoint("read")
    def plan(self, definitions: list[dict[str, Any]], prune: bool = False) -> FeaturePlan:
        """What :meth:`apply` would do with ``definitions`` (the whole repository); changes nothing.

        Raises:
            InvalidInput: a malformed definition or a reference to an undefined one.
        """
        with self.ctx.db.read() as conn:
            return FeaturePlan(self._diff(conn, definitions, prune)[1], applied=False)

    @endpoint("features.write")
    def apply(self, definitions: list[dict[str, Any]], prune: bool = False, project: str | None = None) -> FeaturePlan:
        """Store ``definitions``: new ones as version 1 (owned by ``project``, default the
        workspace's; a new version keeps its definition's project), incompatible changes as a new
        version (the old stays readable), owner/tags/description changes in place; with ``prune``,
        definitions missing from ``definitions`` are removed. One transaction, one audit event per change."""
        with self.ctx.db.write() as conn:
            incoming, changes = self._diff(conn, definitions, prune)
            owners = {(r.kind, r.name): r.project for r in conn.execute(select(defs.c.kind, defs.c.name, defs.c.project))}
            new_owner = owning_project(conn, project, self.ctx.settings.project)
            specs = {(d["kind"], d["name"]): d for d in incoming}
            now, who = now_ms(), self.ctx.principal.name
            for change in changes:
                where = and_(defs.c.kind == change.kind, defs.c.name == change.name)
                if change.action in ("new_version", "remove"):
                    conn.execute(defs.update().where(and_(where, defs.c.current.is_(True))).values(
                        current=False, updated_ms=now, removed_ms=now if change.action == "remove" else None))
                if change.action in ("add", "new_version"):
                    spec = specs[change.kind, change.name]
                    conn.execute(defs.insert().values(
                        id=new_id(), kind=change.kind, name=change.name, version=change.version,
                        spec=orjson.dumps(spec).decode(), schema_digest=schema_digest(spec), current=True,
                        created_by=who, created_ms=now, updated_ms=now,
                        project=owners.get((change.kind, change.name), new_owner)))
                elif change.action == "update":
                    conn.execute(defs.update().where(and_(where, defs.c.version == change.version)).values(
                        spec=orjson.dumps(specs[change.kind, change.name]).decode(), updated_ms=now))
                if change.action in ("add", "new_version", "update", "remove"):
                    self.ctx.audit(conn, feature_definition_action(change.action), Subject(change.kind), change.name,
                                   {"version": change.version, "previous": change.previous, "fields": change.fields})
        forget_plans()
        return FeaturePlan(changes, applied=True)

    @endpoint("read")
    def get(self, kind: str, name: str, version: int | None = None) -> FeatureDefinition:
        """A definition: the current version, or ``version`` (older and removed ones stay readable)."""
        _check_kind(kind)
        with self.ctx.db.read() as conn:
            query = select(defs).where(defs.c.kind == kind, defs.c.name == name)
            query = query.where(defs.c.current.is_(True)) if version is None else query.where(defs.c.version == version)
            row = conn.execute(query).first()
        if row is None:
            which = "" if version is None else f" version {version}"
            raise NotFound(f"no {kind.replace('_', ' ')} named {name!r}{which}")
        return to_definition(row)

    @endpoint("read")
    def list_definitions(self, kind: str | None = None, history: bool = False) -> list[FeatureDefinition]:
        """Current definitions (of one kind); with ``history``, every version including removed ones."""
        _check_kind(kind)
        query = select(defs).order_by(defs.c.kind, defs.c.name, defs.c.version)
        if kind is not None:
            query = query.where(defs.c.kind == kind)
        if not history:
            query = query.where(defs.c.current.is_(True))
        with self.ctx.db.read() as conn:
            return [to_definition(r) for r in conn.execute(query)]

    # -- lineage ---------------------------------------------------------------------------------
    @endpoint("data.write")
    def record_training_set(self, dataset: str, views: list[str], sources: list[list[str]], entities: str | None,
                            service: str | None = None) -> None:
        """Lineage of a training set stored as dataset version ``dataset``: each feature view
        version (``name@N``) it joined, each view's sources (``kind:id``, e.g.
        ``dataset_version:tx@3`` or ``file:/data/tx.parquet``), the entity table's dataset version,
        and the feature service version; audited.

        Raises:
            InvalidInput: malformed arguments. NotFound: a dataset or view version that does not exist.
        """
        if not (isinstance(views, list) and isinstance(sources, list) and len(views) == len(sources)
                and all(isinstance(s, list) and all(isinstance(i, str) and ":" in i for i in s) for s in sources)):
            raise InvalidInput("views and sources are lists of the same length; each source is 'kind:id'")
        with self.ctx.db.write() as conn:
            for ref in [dataset, *([entities] if entities else [])]:
                if not isinstance(ref, str) or not node_exists(conn, "dataset_version", ref) or "@" not in ref:
                    raise NotFound(f"no dataset version {ref!r}")
            for kind, ref in [*(("feature_view", v) for v in views), *([("feature_service", service)] if service else [])]:
                name, _, version = str(ref).rpartition("@")
                found = conn.execute(select(defs.c.id).where(defs.c.kind == kind, defs.c.name == name,
                                                             defs.c.version == (whole_number(version) or 0))).first()
                if found is None:
                    raise NotFound(f"no {kind.replace('_', ' ')} version {ref!r}")
            reader = next(iter(dataset_version_project(conn, dataset)), DEFAULT_PROJECT)
            owners = {r.name: r.project for r in conn.execute(select(defs.c.name, defs.c.project).where(
                defs.c.kind == "feature_view", defs.c.name.in_([v.rpartition("@")[0] for v in views])))}
            crossing = {v: owners[v.rpartition("@")[0]] for v in views if owners.get(v.rpartition("@")[0], reader) != reader}
            for view, view_sources in zip(views, sources, strict=True):
                # A view another project owns (the platform team's shared features) is a
                # cross-project read: the edge says whose features crossed into which project.
                add_edge(conn, "feature_view", view, "features_of", "dataset_version", dataset,
                         {"cross_project": {"from": crossing[view], "to": reader}} if view in crossing else None)
                for item in view_sources:
                    kind, _, ident = item.partition(":")
                    add_edge(conn, kind, ident, "source_of", "feature_view", view)
            if entities:
                add_edge(conn, "dataset_version", entities, "entities_of", "dataset_version", dataset)
            if service:
                add_edge(conn, "feature_service", service, "features_of", "dataset_version", dataset)
            self.ctx.audit(conn, Action.FEATURE_TRAINING_SET, Subject.DATASET_VERSION, dataset,
                           {"views": views, "entities": entities, "service": service,
                            **({"cross_project_reads": crossing} if crossing else {})})
