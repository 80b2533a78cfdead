"""Which project owns a lineage node, an audit event's subject or a blob, for the reads a
project-bound principal makes across domains (lineage walks, the audit log, blob downloads).

A kind (``run``, ``model_version``, ``dataset_version``, … as :class:`slipway.core.events.Subject`
spells it) maps to one or more :class:`Owner` s: the SQL expression a node or subject id equals
(``name/3`` for a model version) and the project column of the row it names. Kinds without an
owner (users, policies, webhooks, files) belong to no project: only a global role reads them.
Feature definitions are shared (:data:`SHARED_KINDS`): readable by anyone who may read anywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    String,
    and_,
    bindparam,
    cast,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.expression import TableValuedAlias

from slipway.core.hashing import check_digest
from slipway.store.schema.data import dataset_versions, datasets
from slipway.store.schema.deploy import deployments, payload_segments
from slipway.store.schema.features import feature_definitions
from slipway.store.schema.governance import approval_requests, fairness_reports
from slipway.store.schema.identity import projects
from slipway.store.schema.monitoring import alerts, monitors
from slipway.store.schema.pipelines import (
    pipeline_runs,
    pipeline_schedules,
    pipeline_step_runs,
    pipeline_triggers,
)
from slipway.store.schema.registry import model_versions, registered_models
from slipway.store.schema.tracking import experiments, run_artifacts, runs

BATCH = 500
# Feature definitions are the platform team's shared catalogue: every project reads them.
SHARED_KINDS = frozenset({"feature_view", "feature_service", "entity", "on_demand_view"})


@dataclasses.dataclass(frozen=True)
class Owner:
    """Rows of ``source`` whose ``key`` is an id of the kind, owned by ``project``."""

    key: ColumnElement[str]
    project: ColumnElement[str]
    source: FromClause

    def pairs(self) -> Select:
        return select(self.key.label("key"), self.project.label("project")).select_from(self.source)

    def keys_in(self, wanted: list[str]) -> Select:
        """The keys of the rows owned by one of the projects ``wanted``."""
        return select(self.key).select_from(self.source).where(self.project.in_(wanted))


def _by_name(table: FromClause, column: str = "name") -> Owner:
    return Owner(table.c[column], table.c.project, table)


_run_source = runs.join(experiments, runs.c.experiment_id == experiments.c.id)
_version_source = dataset_versions.join(datasets, dataset_versions.c.dataset_id == datasets.c.id)
_model_source = model_versions.join(registered_models, model_versions.c.model_id == registered_models.c.id)


def _feature_owners(kind: str) -> tuple[Owner, ...]:
    rows = feature_definitions.select().where(feature_definitions.c.kind == kind).subquery()
    return (Owner(rows.c.name, rows.c.project, rows),
            Owner(rows.c.name + "@" + cast(rows.c.version, String), rows.c.project, rows))


OWNERS: dict[str, tuple[Owner, ...]] = {
    "run": (Owner(runs.c.id, experiments.c.project, _run_source),),
    "experiment": (_by_name(experiments, "id"),),
    "dataset": (_by_name(datasets),),
    "dataset_version": (
        Owner(datasets.c.name + "@" + cast(dataset_versions.c.version, String), datasets.c.project, _version_source),),
    "registered_model": (_by_name(registered_models),),
    "model_version": (Owner(registered_models.c.name + "/" + cast(model_versions.c.version, String),
                            registered_models.c.project, _model_source),),
    "approval_request": (Owner(approval_requests.c.id, registered_models.c.project, approval_requests.join(
        registered_models, approval_requests.c.model == registered_models.c.name)),),
    "deployment": (_by_name(deployments),),
    "monitor": (_by_name(monitors),),
    "alert": (Owner(alerts.c.id, monitors.c.project, alerts.join(monitors, alerts.c.monitor_id == monitors.c.id)),),
    "pipeline_run": (_by_name(pipeline_runs, "id"),),
    "pipeline_schedule": (_by_name(pipeline_schedules, "id"),),
    "pipeline_trigger": (_by_name(pipeline_triggers, "id"),),
    "project": (Owner(projects.c.name, projects.c.name, projects),),
    # Audit events name a definition by name (apply) or ``name@version`` (materialise).
    **{kind: _feature_owners(kind) for kind in sorted(SHARED_KINDS)},
}


def owners_of(conn: Connection, kind: str, ids: Iterable[str]) -> dict[str, str]:
    """``{id: project}`` for the ids of ``kind`` that name an existing object (others are left out)."""
    wanted = sorted(set(ids))
    found: dict[str, str] = {}
    for owner in OWNERS.get(kind, ()):
        for start in range(0, len(wanted), BATCH):
            query = owner.pairs().where(owner.key.in_(wanted[start:start + BATCH]))
            found.update({row.key: row.project for row in conn.execute(query)})
    return found


def subject_readable(kind: ColumnElement[str], ident: ColumnElement[str], readable: Iterable[str]) -> ColumnElement[bool]:
    """A condition on a (kind, id) pair of columns: the object they name is owned by one of the
    ``readable`` projects (subjects of kinds without an owner never match)."""
    wanted = sorted(set(readable))
    if not wanted:
        return false()
    return or_(*(and_(kind == name, ident.in_(owner.keys_in(wanted).scalar_subquery()))
                 for name, owners in OWNERS.items() for owner in owners))


DIGEST_BATCH = 5000  # digests per query of blob_owners (one bound JSON array each)


def _listed(dialect: str, digests: list[str]) -> TableValuedAlias:
    """The rows (``value``) of ``digests`` bound as one JSON array and expanded by the database:
    thousands of bound values cost more to send than the queries take to run."""
    listed = bindparam("digests", orjson.dumps(digests).decode(), type_=String)
    if dialect == "postgresql":
        return func.jsonb_array_elements_text(cast(listed, JSONB)).table_valued("value")
    return func.json_each(listed).table_valued("value")


def _blob_references(dialect: str, digests: list[str]) -> list[Select]:
    """Queries of ``(digest, project)`` for the objects that refer to one of ``digests`` directly."""
    def refs(column: ColumnElement[str], project: ColumnElement[str], source: FromClause) -> Select:
        return select(column, project).select_from(source).where(
            column.in_(select(_listed(dialect, digests).c.value).scalar_subquery()))

    return [
        refs(model_versions.c.bundle_digest, registered_models.c.project, _model_source),
        refs(dataset_versions.c.digest, datasets.c.project, _version_source),
        refs(dataset_versions.c.profile_digest, datasets.c.project, _version_source),
        refs(run_artifacts.c.digest, experiments.c.project, run_artifacts.join(runs).join(experiments)),
        refs(runs.c.packages_digest, experiments.c.project, _run_source),
        refs(payload_segments.c.digest, deployments.c.project,
             payload_segments.join(deployments, payload_segments.c.deployment == deployments.c.name)),
        refs(fairness_reports.c.digest, registered_models.c.project,
             fairness_reports.join(registered_models, fairness_reports.c.model == registered_models.c.name)),
        refs(pipeline_step_runs.c.logs_digest, pipeline_runs.c.project, pipeline_step_runs.join(pipeline_runs)),
        refs(pipeline_runs.c.source_digest, pipeline_runs.c.project, pipeline_runs),
        refs(pipeline_schedules.c.source_digest, pipeline_schedules.c.project, pipeline_schedules),
        refs(pipeline_triggers.c.source_digest, pipeline_triggers.c.project, pipeline_triggers),
    ]


def _step_outputs(dialect: str, digests: list[str]) -> Select:
    """``(digest, project)`` for the step runs whose outputs name one of ``digests``. The outputs
    are a JSON object naming their digests (hex, checked: no LIKE wildcard in it); a cache entry's
    outputs are those of the step run that made it."""
    rows = _listed(dialect, digests)
    return select(rows.c.value, pipeline_runs.c.project).select_from(
        pipeline_step_runs.join(pipeline_runs).join(rows, pipeline_step_runs.c.outputs.contains(rows.c.value)))


def blob_owners(conn: Connection, digests: Iterable[str]) -> dict[str, set[str]]:
    """``{digest: projects}``: the projects of the objects that refer to each of ``digests``
    directly (a digest nothing refers to is left out), in a dozen queries per 5,000 digests."""
    wanted = sorted({check_digest(d) for d in digests})
    found: dict[str, set[str]] = {}
    dialect = conn.dialect.name
    for start in range(0, len(wanted), DIGEST_BATCH):
        chunk = wanted[start:start + DIGEST_BATCH]
        for query in [*_blob_references(dialect, chunk), _step_outputs(dialect, chunk)]:
            for digest, project in conn.execute(query):
                found.setdefault(digest, set()).add(project)
    return found


def blob_projects(conn: Connection, digest: str) -> set[str]:
    """The projects of the objects that refer to blob ``digest`` directly: a model version's bundle,
    a dataset version's manifest or profile, a run's artifact or environment lock, a deployment's
    payload segment, a fairness report, a pipeline run's source or a step's logs or outputs. Files
    inside a bundle or folder are found through the manifest that lists them (see
    ``slipway.server.blob_routes``)."""
    return blob_owners(conn, [digest]).get(digest, set())
