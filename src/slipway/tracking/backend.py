"""The tracking backend: every tracking operation as one SQL transaction.

Each public method is an API endpoint (see :func:`slipway.core.auth.endpoint`): the server
publishes it, the remote client calls it, embedded mode calls it directly. Arguments and results
are plain values or records, so the same calls work over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, func, or_, select

from slipway.core.auth import authorised, endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from slipway.core.events import Action, Subject
from slipway.core.hashing import check_digest
from slipway.core.ids import new_id
from slipway.core.limits import TAG_VALUE
from slipway.core.names import check_key, check_label, check_name, check_value
from slipway.store.context import ServiceContext
from slipway.store.edges import add_edge
from slipway.store.projects import DEFAULT_PROJECT, owning_project, readable, scoped_by
from slipway.store.schema.tracking import (
    experiments,
    run_artifacts,
    run_inputs,
    run_tags,
    runs,
)
from slipway.store.schema.tracking import metrics as metric_points
from slipway.store.schema.tracking import params as run_params
from slipway.store.upsert import insert_ignore, upsert
from slipway.tracking import history
from slipway.tracking.comparison import compare
from slipway.tracking.importing import (
    check_artifact,
    checked_rows,
    imported_origins,
    imported_run_id,
    insert_imported_run,
    run_id_for,
)
from slipway.tracking.metric_points import MetricPoint, insert_points, upsert_latest
from slipway.tracking.metric_points import metric_rows as points_to_rows
from slipway.tracking.records import (
    RUN_STATUSES,
    Experiment,
    ImportedRun,
    Metric,
    MetricHistoryPage,
    Run,
    RunArtifact,
    RunComparison,
    RunImport,
    RunInput,
    RunPage,
)
from slipway.tracking.rows import load_runs, row_to_experiment
from slipway.tracking.scope import TRACKING_SCOPE
from slipway.tracking.search_runs import search
from slipway.tracking.series import metric_series

DEFAULT_EXPERIMENT = "Default"


class TrackingBackend:
    _projects_of = scoped_by(TRACKING_SCOPE)

    def __init__(self, ctx: ServiceContext, clock: Callable[[], int] = now_ms) -> None:
        self.ctx = ctx
        self.clock = clock  # start times and heartbeats; tests inject their own

    # -- experiments ------------------------------------------------------------------------
    def _experiment(self, conn: Connection, name_or_id: str) -> Experiment:
        row = conn.execute(
            select(experiments).where(or_(experiments.c.name == name_or_id, experiments.c.id == name_or_id))
        ).first()
        if row is None:
            raise NotFound(f"experiment {name_or_id!r} does not exist")
        return row_to_experiment(row)

    def _create_experiment(self, conn: Connection, name: str, description: str, exist_ok: bool = False,
                           project: str | None = None) -> Experiment:
        check_label(name, "experiment name")
        owner = owning_project(conn, project, self.ctx.settings.project)
        exp = Experiment(new_id(), name, check_value(description, "description"), "active", now_ms(), owner)
        # ON CONFLICT DO NOTHING, not check-then-insert: on PostgreSQL two processes creating the
        # same experiment at once would both pass the check and one would fail on the unique name.
        insert_ignore(conn, experiments, [{"id": exp.id, "name": name, "description": exp.description,
                                           "lifecycle": "active", "created_ms": exp.created_ms,
                                           "project": owner}], ["name"])
        existing = self._experiment(conn, name)
        if existing.id != exp.id:
            if exist_ok:
                return existing
            raise AlreadyExists(f"experiment {name!r} already exists")
        self.ctx.audit(conn, Action.EXPERIMENT_CREATE, Subject.EXPERIMENT, exp.id,
                       {"name": name, **({"project": owner} if owner != DEFAULT_PROJECT else {})})
        return exp

    @endpoint("tracking.write")
    def create_experiment(self, name: str, description: str = "", project: str | None = None) -> Experiment:
        """Create an experiment in ``project`` (default: the workspace's); AlreadyExists if taken."""
        with self.ctx.db.write() as conn:
            return self._create_experiment(conn, name, description, project=project)

    @endpoint("tracking.write")
    def get_or_create_experiment(self, name: str, project: str | None = None) -> Experiment:
        with self.ctx.db.write() as conn:
            try:
                return self._experiment(conn, name)
            except NotFound:
                return self._create_experiment(conn, name, "", exist_ok=True, project=project)

    @endpoint("read")
    def get_experiment(self, name_or_id: str) -> Experiment:
        with self.ctx.db.read() as conn:
            return self._experiment(conn, name_or_id)

    @endpoint("read")
    def list_experiments(self) -> list[Experiment]:
        with self.ctx.db.read() as conn:
            query = readable(self.ctx.principal, select(experiments), experiments.c.project)
            return [row_to_experiment(r) for r in conn.execute(query.order_by(experiments.c.created_ms))]

    # -- runs -------------------------------------------------------------------------------
    @endpoint("tracking.write")
    def create_run(
        self, experiment: str | None = None, name: str | None = None, parent_id: str | None = None,
        git_commit: str | None = None, git_dirty: bool | None = None, source: str | None = None,
        packages_digest: str | None = None, tags: dict[str, str] | None = None, project: str | None = None,
        start_ms: int | None = None,
    ) -> Run:
        """Start a run in ``experiment`` (created when missing, in ``project`` or the workspace's), at
        ``start_ms`` if given (MLflow's ``start_time``; the audit event keeps the server's time)."""
        run_id = new_id()
        if start_ms is not None and (type(start_ms) is not int or start_ms < 0):
            raise InvalidInput(f"start_ms must be a non-negative integer (milliseconds), got {start_ms!r}")
        name = name or f"run-{run_id[-8:]}"
        check_label(name, "run name")
        if packages_digest is not None:
            check_digest(packages_digest)
        tag_rows = [{"run_id": run_id, "key": check_key(k, "tag key"), "value": check_value(v, f"tag {k}", TAG_VALUE)}
                    for k, v in (tags or {}).items()]
        with self.ctx.db.write() as conn:
            try:
                exp = self._experiment(conn, experiment or DEFAULT_EXPERIMENT)
            except NotFound:
                if experiment and experiment != DEFAULT_EXPERIMENT and len(experiment) == 32 and experiment.isalnum():
                    raise
                exp = self._create_experiment(conn, experiment or DEFAULT_EXPERIMENT, "", exist_ok=True,
                                              project=project)
            if parent_id is not None:
                self._run_row(conn, parent_id)
            now = self.clock()
            conn.execute(runs.insert().values(
                id=run_id, experiment_id=exp.id, name=name, parent_id=parent_id, status="RUNNING", end_ms=None,
                start_ms=now if start_ms is None else start_ms, heartbeat_ms=now, lifecycle="active",
                user=self.ctx.principal.name, git_commit=git_commit, git_dirty=git_dirty,
                source=(source or "")[:500] or None, packages_digest=packages_digest))
            if tag_rows:
                conn.execute(run_tags.insert(), tag_rows)
            self.ctx.audit(conn, Action.RUN_CREATE, Subject.RUN, run_id, {"experiment": exp.name, "name": name, "parent_id": parent_id})
            return load_runs(conn, [run_id])[0]

    def _run_row(self, conn: Connection, run_id: str) -> Any:
        if not isinstance(run_id, str):
            raise InvalidInput(f"run id must be a string, got {run_id!r}")
        row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"run {run_id!r} does not exist")
        return row

    def _writable_run(self, conn: Connection, run_id: str) -> Any:
        row = self._run_row(conn, run_id)
        if row.lifecycle == "deleted":
            raise Conflict(f"run {run_id} is deleted; restore it before writing to it")
        return row

    @endpoint("tracking.write")
    def end_run(self, run_id: str, status: str = "FINISHED") -> Run:
        if status not in RUN_STATUSES or status == "RUNNING":
            raise InvalidInput(f"a run ends as FINISHED, FAILED or KILLED, not {status!r}")
        with self.ctx.db.write() as conn:
            self._writable_run(conn, run_id)
            conn.execute(runs.update().where(runs.c.id == run_id).values(status=status, end_ms=now_ms()))
            self.ctx.audit(conn, Action.RUN_END, Subject.RUN, run_id, {"status": status})
            return load_runs(conn, [run_id])[0]

    @endpoint("tracking.write")
    def heartbeat_runs(self, run_ids: list[str]) -> int:
        """Record that the process running ``run_ids`` is alive (its logger calls this every
        ``run_heartbeat_seconds``). Only RUNNING runs are touched; returns how many were.

        A heartbeat is a sign of life, not a change of the record, so it writes no audit event.
        """
        if isinstance(run_ids, str) or not isinstance(run_ids, list | tuple) or not all(
                isinstance(r, str) for r in run_ids):
            raise InvalidInput(f"heartbeat_runs takes a list of run ids, got {run_ids!r}"[:300])
        if len(run_ids) > 10_000:
            raise InvalidInput(f"heartbeat at most 10,000 runs at once, not {len(run_ids)}")
        if not run_ids:
            return 0
        with self.ctx.db.write() as conn:
            result = conn.execute(runs.update().where(runs.c.id.in_(list(run_ids)), runs.c.status == "RUNNING")
                                  .values(heartbeat_ms=self.clock()))
            return int(result.rowcount or 0)

    @endpoint("tracking.write")
    def reap_stale_runs(self, stale_seconds: float | None = None) -> list[str]:
        """Mark FAILED every RUNNING run whose last heartbeat (or start, for runs from before
        heartbeats) is older than ``stale_seconds`` (default ``run_stale_seconds``): its process is
        gone. The end time is that last sign of life; each reaped run gets a ``run.reap`` event.

        Returns:
            The ids of the runs reaped, oldest heartbeat first.
        """
        stale = self.ctx.settings.run_stale_seconds if stale_seconds is None else stale_seconds
        if isinstance(stale, bool) or not isinstance(stale, int | float) or not 1 <= stale <= 10**8:
            raise InvalidInput(f"stale_seconds must be a number of seconds from 1 to 1e8, got {stale_seconds!r}")
        cutoff = self.clock() - int(stale * 1000)
        last_seen = func.coalesce(runs.c.heartbeat_ms, runs.c.start_ms)
        with self.ctx.db.write() as conn:
            found = conn.execute(select(runs.c.id, last_seen.label("seen"))
                                 .where(runs.c.status == "RUNNING", last_seen < cutoff)
                                 .order_by(last_seen, runs.c.id)).all()
            for row in found:
                conn.execute(runs.update().where(runs.c.id == row.id, runs.c.status == "RUNNING")
                             .values(status="FAILED", end_ms=row.seen))
                self.ctx.audit(conn, Action.RUN_REAP, Subject.RUN, row.id,
                               {"status": "FAILED", "last_heartbeat_ms": row.seen, "stale_seconds": stale})
        return [row.id for row in found]

    @endpoint("read")
    def get_run(self, run_id: str) -> Run:
        with self.ctx.db.read() as conn:
            self._run_row(conn, run_id)
            return load_runs(conn, [run_id])[0]

    # -- params, metrics, tags --------------------------------------------------------------
    @endpoint("tracking.write")
    def log_batch(
        self, run_id: str, metrics: Sequence[MetricPoint] = (), params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> int:
        """Log metric points ``(key, value, step, timestamp_ms)``, params and tags at once.

        Everything is checked before anything is written; a bad point rejects the whole batch.
        Returns the number of metric points stored.
        """
        metric_rows, latest = points_to_rows(run_id, metrics, now_ms())
        param_rows = [{"run_id": run_id, "key": check_key(k, "param key"), "value": check_value(v, f"param {k}")}
                      for k, v in (params or {}).items()]
        tag_rows = [{"run_id": run_id, "key": check_key(k, "tag key"), "value": check_value(v, f"tag {k}", TAG_VALUE)}
                    for k, v in (tags or {}).items()]
        with self.ctx.db.write() as conn:
            self._writable_run(conn, run_id)
            if param_rows:
                self._check_params_unchanged(conn, run_id, param_rows)
                insert_ignore(conn, run_params, param_rows, ["run_id", "key"])
            if tag_rows:
                upsert(conn, run_tags, tag_rows, ["run_id", "key"], ["value"])
            insert_points(conn, metric_rows)
            upsert_latest(conn, latest)
            self.ctx.audit(conn, Action.RUN_LOG_BATCH, Subject.RUN, run_id,
                           {"metrics": len(metric_rows), "params": sorted(p["key"] for p in param_rows),
                            "tags": sorted(t["key"] for t in tag_rows)})
        return len(metric_rows)

    def _check_params_unchanged(self, conn: Connection, run_id: str, rows: list[dict[str, Any]]) -> None:
        keys = [r["key"] for r in rows]
        existing = dict(conn.execute(select(run_params.c.key, run_params.c.value).where(
            run_params.c.run_id == run_id, run_params.c.key.in_(keys))).all())
        for row in rows:
            old = existing.get(row["key"])
            if old is not None and old != row["value"]:
                raise InvalidInput(
                    f"param {row['key']!r} of run {run_id} is already {old!r}; params cannot change (got {row['value']!r})"
                )

    @endpoint("read")
    def get_metric_history(self, run_id: str, key: str, offset: int = 0, limit: int | None = None) -> list[Metric]:
        """Every point of metric ``key`` by step and time; or ``limit`` of them from ``offset`` (a page;
        an offset costs a step over every earlier point: page with :meth:`get_metric_history_page`)."""
        history.check_offset(key, offset, limit)
        with self.ctx.db.read() as conn:
            self._run_row(conn, run_id)
            rows = history.history_rows(conn, run_id, key, offset, limit)
        return [Metric(key, value, step, ts) for value, step, ts in rows]

    @endpoint("read")
    def get_metric_history_page(self, run_id: str, key: str, limit: int = 10_000, page_token: str | None = None,
                                min_step: int | None = None, max_step: int | None = None) -> MetricHistoryPage:
        """Up to ``limit`` points of metric ``key`` by step and time with ``min_step <= step <= max_step``,
        from the start or after the previous page's ``next_token``; a page anywhere costs what the
        first costs (see :mod:`slipway.tracking.history`). InvalidInput for a malformed token."""
        after = None if page_token is None else history.decode_position(page_token)
        rows, last = self.metric_history_rows(run_id, key, limit, after, min_step, max_step)
        return MetricHistoryPage([Metric(key, v, step, ts) for v, step, ts in rows],
                                 None if last is None else history.encode_position(last))

    def metric_history_rows(self, run_id: str, key: str, limit: int | None, after: history.Position | None = None,
                            min_step: int | None = None, max_step: int | None = None, offset: int = 0,
                            ) -> tuple[list[history.HistoryRow], history.Position | None]:
        """:meth:`get_metric_history_page` as ``(value, step, timestamp_ms)`` tuples and the position to
        continue from, for MLflow's get-history (whose old page tokens are offsets); not an endpoint."""
        scoped: TrackingBackend = authorised(self, "get_metric_history", ("read",), {"run_id": run_id})
        history.check_page(key, limit, min_step, max_step, offset)
        with scoped.ctx.db.read() as conn:
            scoped._run_row(conn, run_id)
            return history.page_rows(conn, run_id, key, limit, after, min_step, max_step, offset)

    @endpoint("read")
    def get_metric_series(self, run_id: str, key: str, max_points: int = 2000, min_step: int | None = None,
                          max_step: int | None = None) -> dict[str, Any]:
        """One metric's history for a chart: at most ``max_points`` points, the minimum and maximum of
        each step bucket when the series is longer (see :mod:`slipway.tracking.series`)."""
        with self.ctx.db.read() as conn:
            self._run_row(conn, run_id)
            return metric_series(conn, run_id, key, max_points, min_step, max_step)

    @endpoint("read")
    def count_metric_points(self, run_id: str) -> int:
        with self.ctx.db.read() as conn:
            self._run_row(conn, run_id)
            return int(conn.execute(select(func.count()).select_from(metric_points).where(metric_points.c.run_id == run_id)).scalar_one())

    # -- artifacts and inputs ---------------------------------------------------------------
    @endpoint("tracking.write")
    def record_artifact(self, run_id: str, path: str, digest: str, kind: str, size: int) -> RunArtifact:
        """Record that the blob ``digest`` (a file, or a folder's manifest) is artifact ``path``.

        ``a/./b`` and ``a//b`` are recorded as ``a/b``; a folder's manifest is checked (every
        path inside it safe) before it is recorded.
        """
        path = check_artifact(self.ctx.blobs, path, digest, kind, size).path
        with self.ctx.db.write() as conn:
            self._writable_run(conn, run_id)
            upsert(conn, run_artifacts, [{"run_id": run_id, "path": path, "digest": digest, "kind": kind,
                                          "size": int(size), "created_ms": now_ms()}],
                   ["run_id", "path"], ["digest", "kind", "size", "created_ms"])
            self.ctx.audit(conn, Action.RUN_LOG_ARTIFACT, Subject.RUN, run_id, {"path": path, "digest": digest, "kind": kind})
        return RunArtifact(path, digest, kind, int(size))

    @endpoint("read")
    def list_artifacts(self, run_id: str) -> list[RunArtifact]:
        with self.ctx.db.read() as conn:
            self._run_row(conn, run_id)
            rows = conn.execute(select(run_artifacts).where(run_artifacts.c.run_id == run_id).order_by(run_artifacts.c.path))
            return [RunArtifact(r.path, r.digest, r.kind, r.size) for r in rows]

    @endpoint("tracking.write")
    def log_inputs(self, run_id: str, inputs: list[RunInput]) -> list[RunInput]:
        """Record dataset versions a run read, and a lineage edge from each to the run."""
        if not isinstance(inputs, list | tuple) or not all(isinstance(i, RunInput) for i in inputs):
            raise InvalidInput(f"inputs must be a list of RunInput records, got {inputs!r}"[:300])
        for item in inputs:
            check_name(item.dataset, "dataset name")
            check_digest(item.digest)
            check_name(item.context, "input context")
            if len(item.context) > 50:
                raise InvalidInput(f"input context {item.context[:60]!r} is longer than 50 characters")
            if item.version is not None and (isinstance(item.version, bool) or not isinstance(item.version, int)):
                raise InvalidInput(f"dataset version must be an integer or None, got {item.version!r}")
        with self.ctx.db.write() as conn:
            self._writable_run(conn, run_id)
            rows = [{"run_id": run_id, "dataset": i.dataset, "digest": i.digest, "version": i.version,
                     "context": i.context, "created_ms": now_ms()} for i in inputs]
            insert_ignore(conn, run_inputs, rows, ["run_id", "dataset", "digest"])
            for item in inputs:
                ref = f"{item.dataset}@{item.version}" if item.version is not None else f"{item.dataset}#{item.digest[:12]}"
                add_edge(conn, "dataset_version", ref, "input_to", "run", run_id, {"context": item.context})
            self.ctx.audit(conn, Action.RUN_LOG_INPUTS, Subject.RUN, run_id,
                           {"inputs": [f"{i.dataset}@{i.version}" for i in inputs]})
        return inputs

    @endpoint("read")
    def list_inputs(self, run_id: str) -> list[RunInput]:
        with self.ctx.db.read() as conn:
            self._run_row(conn, run_id)
            rows = conn.execute(select(run_inputs).where(run_inputs.c.run_id == run_id).order_by(run_inputs.c.created_ms))
            return [RunInput(r.dataset, r.version, r.digest, r.context) for r in rows]

    # -- runs from other tracking systems (tracking.importing) ---------------------------------
    @endpoint("tracking.write")
    def import_runs(self, runs: list[ImportedRun]) -> list[RunImport]:
        """Write finished runs from another system whole: their times, status, user, every metric
        point, params, tags and artifacts, all in one transaction, with one ``run.import`` event
        per run. Experiments are created when missing. A run carrying its ``origin`` already is
        returned with ``created=False`` and written again in no part.

        Raises:
            InvalidInput: any bad name, key, value, point, time, id or artifact (nothing is written).
            NotFound: a ``parent_id`` names no run (nor an earlier run of the batch).
            Conflict: a run's ``id`` is taken by a run from elsewhere.
        """
        if not isinstance(runs, list | tuple) or not 1 <= len(runs) <= 10_000:
            raise InvalidInput("import_runs takes a list of 1 to 10,000 ImportedRun records")
        checked = [(item, checked_rows(self.ctx.blobs, item, run_id_for(item))) for item in runs]
        done, experiment_ids = [], {}
        with self.ctx.db.write() as conn:
            for item, rows in checked:
                existing = imported_run_id(conn, item.origin, item.id)
                if existing is not None:
                    done.append(RunImport(existing, False))
                    continue
                if item.experiment not in experiment_ids:
                    try:
                        exp = self._experiment(conn, item.experiment)
                    except NotFound:
                        exp = self._create_experiment(conn, item.experiment, item.experiment_description, exist_ok=True)
                    experiment_ids[item.experiment] = exp.id
                insert_imported_run(self.ctx, conn, experiment_ids[item.experiment], item, rows)
                done.append(RunImport(rows["run"]["id"], True))
        return done

    @endpoint("read")
    def imported_runs(self, origin_key: str) -> dict[str, str]:
        """The runs imported so far, as origin tag value (e.g. an MLflow run id) → Slipway run id."""
        with self.ctx.db.read() as conn:
            return imported_origins(conn, origin_key)

    # -- search, delete, restore, compare (the query language is in tracking.search) ----------
    @endpoint("read")
    def search_runs(
        self, filter: str = "", experiments: list[str] | None = None, order_by: list[str] | None = None,
        max_results: int = 100, page_token: str | None = None, include_deleted: bool = False,
    ) -> RunPage:
        """Runs matching ``filter`` (MLflow's syntax plus ``or`` and parentheses), one page at a time.

        Args:
            filter: e.g. ``"metrics.auc > 0.9 and params.model = 'rf'"``; empty matches every run.
            experiments: names or ids to search in; None searches every experiment.
            order_by: e.g. ``["metrics.auc DESC", "attributes.start_time"]``; missing values last.
            max_results: the page size (1 to 50,000).
            page_token: the ``next_token`` of the previous page.
            include_deleted: also return soft-deleted runs.

        Raises:
            InvalidInput: a syntax error (naming its position), a bad page token or page size.
            NotFound: an experiment that does not exist.
        """
        with self.ctx.db.read() as conn:
            experiment_ids = None
            if experiments is not None:
                if isinstance(experiments, str) or not isinstance(experiments, list | tuple) or not all(
                        isinstance(e, str) for e in experiments):
                    raise InvalidInput(f"experiments is a list of names or ids, got {experiments!r}")
                experiment_ids = [self._experiment(conn, e).id for e in experiments]
            experiment_ids = self._readable_experiments(conn, experiment_ids)
            orders = [order_by] if isinstance(order_by, str) else list(order_by or [])
            return search(conn, filter or "", experiment_ids, orders, max_results,
                               page_token, bool(include_deleted))

    def _readable_experiments(self, conn: Connection, experiment_ids: list[str] | None) -> list[str] | None:
        """``experiment_ids`` (None: all) narrowed to the experiments the caller may read."""
        if self.ctx.principal.projects_where("read") is None:
            return experiment_ids
        query = readable(self.ctx.principal, select(experiments.c.id), experiments.c.project)
        if experiment_ids is not None:
            query = query.where(experiments.c.id.in_(experiment_ids))
        return [row.id for row in conn.execute(query)]

    def _set_lifecycle(self, run_id: str, deleted: bool) -> Run:
        with self.ctx.db.write() as conn:
            row = self._run_row(conn, run_id)
            if (row.lifecycle == "deleted") == deleted:
                state = "already deleted" if deleted else "not deleted"
                raise Conflict(f"run {run_id} is {state}")
            conn.execute(runs.update().where(runs.c.id == run_id).values(
                lifecycle="deleted" if deleted else "active", deleted_ms=now_ms() if deleted else None))
            self.ctx.audit(conn, Action.RUN_DELETE if deleted else Action.RUN_RESTORE, Subject.RUN, run_id, {"name": row.name})
            return load_runs(conn, [run_id])[0]

    @endpoint("tracking.write")
    def delete_run(self, run_id: str) -> Run:
        """Soft-delete a run: hidden from search, refusing writes, restorable. Conflict if deleted."""
        return self._set_lifecycle(run_id, True)

    @endpoint("tracking.write")
    def restore_run(self, run_id: str) -> Run:
        """Undo :meth:`delete_run`. Conflict if the run is not deleted."""
        return self._set_lifecycle(run_id, False)

    @endpoint("read")
    def compare_runs(self, run_ids: list[str]) -> RunComparison:
        """Params and latest metrics of ``run_ids`` side by side (one list entry per run, None where
        a run lacks the key), and which params differ."""
        if isinstance(run_ids, str) or not isinstance(run_ids, list | tuple) or not run_ids:
            raise InvalidInput(f"compare_runs takes a non-empty list of run ids, got {run_ids!r}")
        if len(run_ids) > 1000:
            raise InvalidInput(f"compare at most 1000 runs at once, not {len(run_ids)}")
        with self.ctx.db.read() as conn:
            for run_id in run_ids:
                self._run_row(conn, run_id)
            loaded = load_runs(conn, list(run_ids))
        return compare(loaded)
