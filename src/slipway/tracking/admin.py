"""Tracking changes beyond logging: renaming and soft-deleting experiments, renaming runs,
removing run tags. Each is one audited transaction, like every change in
:class:`~slipway.tracking.backend.TrackingBackend` (the MLflow-compatible API uses them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select

from slipway.core.auth import endpoint
from slipway.core.errors import AlreadyExists, Conflict, NotFound
from slipway.core.events import Action, Subject
from slipway.core.names import check_key, check_label, check_value
from slipway.store.context import ServiceContext
from slipway.store.projects import ProjectScope, experiment_project, readable, run_project, scoped_by
from slipway.store.schema.tracking import experiment_tags, experiments, run_tags, runs
from slipway.store.upsert import upsert
from slipway.tracking.records import Experiment, Run
from slipway.tracking.rows import load_runs, row_to_experiment

EXPERIMENT_TAG_VALUE = 5000  # MLflow's limit for an experiment tag's value


class TrackingAdmin:
    # A project-scoped principal's change is authorised in the project of the experiment or run.
    _projects_of = scoped_by(ProjectScope({"experiment_id": experiment_project, "run_id": run_project},
                                          listings=frozenset({"experiment_tags"})))

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @staticmethod
    def _experiment(conn: Connection, experiment_id: str) -> Experiment:
        row = conn.execute(select(experiments).where(experiments.c.id == experiment_id)).first()
        if row is None:
            raise NotFound(f"experiment {experiment_id!r} does not exist")
        return row_to_experiment(row)

    @endpoint("tracking.write")
    def rename_experiment(self, experiment_id: str, new_name: str) -> Experiment:
        """Give an experiment a new name; AlreadyExists if another experiment has it."""
        check_label(new_name, "experiment name")
        with self.ctx.db.write() as conn:
            old = self._experiment(conn, experiment_id)
            taken = conn.execute(select(experiments.c.id).where(experiments.c.name == new_name)).first()
            if taken is not None and taken.id != experiment_id:
                raise AlreadyExists(f"experiment {new_name!r} already exists")
            conn.execute(experiments.update().where(experiments.c.id == experiment_id).values(name=new_name))
            self.ctx.audit(conn, Action.EXPERIMENT_RENAME, Subject.EXPERIMENT, experiment_id, {"from": old.name, "to": new_name})
            return self._experiment(conn, experiment_id)

    @endpoint("tracking.write")
    def set_experiment_lifecycle(self, experiment_id: str, deleted: bool) -> Experiment:
        """Soft-delete (``deleted=True``) or restore an experiment; its runs are untouched.
        Conflict if it is already in that state."""
        with self.ctx.db.write() as conn:
            old = self._experiment(conn, experiment_id)
            if (old.lifecycle == "deleted") == bool(deleted):
                raise Conflict(f"experiment {old.name!r} is {'already deleted' if deleted else 'not deleted'}")
            conn.execute(experiments.update().where(experiments.c.id == experiment_id)
                         .values(lifecycle="deleted" if deleted else "active"))
            self.ctx.audit(conn, Action.EXPERIMENT_DELETE if deleted else Action.EXPERIMENT_RESTORE, Subject.EXPERIMENT,
                           experiment_id, {"name": old.name})
            return self._experiment(conn, experiment_id)

    @endpoint("tracking.write")
    def describe_experiment(self, experiment_id: str, description: str) -> Experiment:
        """Replace an experiment's description."""
        text = check_value(description, "description")
        with self.ctx.db.write() as conn:
            self._experiment(conn, experiment_id)
            conn.execute(experiments.update().where(experiments.c.id == experiment_id).values(description=text))
            self.ctx.audit(conn, Action.EXPERIMENT_DESCRIBE, Subject.EXPERIMENT, experiment_id, {"description": text[:200]})
            return self._experiment(conn, experiment_id)

    @endpoint("tracking.write")
    def rename_run(self, run_id: str, new_name: str) -> Run:
        """Give a run a new name."""
        check_label(new_name, "run name")
        with self.ctx.db.write() as conn:
            row = self._live_run(conn, run_id)
            conn.execute(runs.update().where(runs.c.id == run_id).values(name=new_name))
            self.ctx.audit(conn, Action.RUN_RENAME, Subject.RUN, run_id, {"from": row.name, "to": new_name})
            return load_runs(conn, [run_id])[0]

    @endpoint("tracking.write")
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set tag ``key`` of an experiment (MLflow's ``set_experiment_tag``), replacing its value."""
        check_key(key, "experiment tag key")
        text = check_value(value, f"experiment tag {key}", EXPERIMENT_TAG_VALUE)
        with self.ctx.db.write() as conn:
            self._experiment(conn, experiment_id)
            upsert(conn, experiment_tags, [{"experiment_id": experiment_id, "key": key, "value": text}],
                   ["experiment_id", "key"], ["value"])
            self.ctx.audit(conn, Action.EXPERIMENT_SET_TAG, Subject.EXPERIMENT, experiment_id,
                           {"key": key, "value": text[:200]})

    @endpoint("tracking.write")
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove tag ``key`` from an experiment; NotFound if it has no such tag."""
        check_key(key, "experiment tag key")
        with self.ctx.db.write() as conn:
            self._experiment(conn, experiment_id)
            gone = conn.execute(delete(experiment_tags).where(experiment_tags.c.experiment_id == experiment_id,
                                                              experiment_tags.c.key == key))
            if not gone.rowcount:
                raise NotFound(f"No tag with name: {key} in experiment with id {experiment_id}")
            self.ctx.audit(conn, Action.EXPERIMENT_DELETE_TAG, Subject.EXPERIMENT, experiment_id, {"key": key})

    @endpoint("read")
    def experiment_tags(self, experiment_ids: list[str]) -> dict[str, dict[str, str]]:
        """The tags of each of ``experiment_ids`` the caller may read (the others are left out, as
        in a listing): ``{experiment id: {key: value}}``, every id it may read present."""
        ids = [str(i) for i in experiment_ids]
        found: dict[str, dict[str, str]] = {}
        with self.ctx.db.read() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                query = readable(self.ctx.principal, select(experiments.c.id).where(experiments.c.id.in_(chunk)),
                                 experiments.c.project)
                found.update({row.id: {} for row in conn.execute(query)})
                readable_ids = [i for i in chunk if i in found]
                if not readable_ids:
                    continue
                for row in conn.execute(select(experiment_tags).where(experiment_tags.c.experiment_id.in_(readable_ids))
                                        .order_by(experiment_tags.c.key)):
                    found[row.experiment_id][row.key] = row.value
        return found

    @endpoint("tracking.write")
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove tag ``key`` from a run; NotFound if the run has no such tag."""
        check_key(key, "tag key")
        with self.ctx.db.write() as conn:
            self._live_run(conn, run_id)
            gone = conn.execute(delete(run_tags).where(run_tags.c.run_id == run_id, run_tags.c.key == key))
            if not gone.rowcount:
                raise NotFound(f"run {run_id} has no tag {key!r}")
            self.ctx.audit(conn, Action.RUN_DELETE_TAG, Subject.RUN, run_id, {"key": key})

    @staticmethod
    def _live_run(conn: Connection, run_id: str) -> Any:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"run {run_id!r} does not exist")
        if row.lifecycle == "deleted":
            raise Conflict(f"run {run_id} is deleted; restore it before writing to it")
        return row
