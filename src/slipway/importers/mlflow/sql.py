"""Reading an MLflow database (``sqlite:///mlflow.db``, ``postgresql://…``) with SQLAlchemy, read-only.

The queries name only the tables and columns of MLflow's documented SQL schema (``runs``,
``metrics``, ``params``, ``tags``, ``model_versions``, ``logged_models``…), present since MLflow 2.x
(logged models since 3.0; their absence just means none); MLflow itself is not imported.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from slipway.core.errors import InvalidInput
from slipway.importers.mlflow.source import (
    MlflowExperiment,
    MlflowLoggedModel,
    MlflowModelVersion,
    MlflowRegisteredModel,
    MlflowRun,
    Point,
    redact,
)

_LOGGED_MODEL_STATUS = {0: "UNSPECIFIED", 1: "PENDING", 2: "READY", 3: "FAILED"}


def _engine(uri: str) -> Engine:
    try:
        url = make_url(uri)
    except ArgumentError as err:
        raise InvalidInput(f"{redact(uri)!r} is not a database URL: {err}") from err
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not url.database or not path.is_file():
            raise InvalidInput(f"MLflow database {url.database!r} does not exist (from {redact(uri)})")
        # mode=ro: SQLite itself refuses any write, and never creates a missing file.
        return create_engine(f"sqlite:///file:{path.resolve()}?mode=ro&uri=true")
    if url.get_backend_name() == "postgresql" and url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    args = {"options": "-c default_transaction_read_only=on"} if url.get_backend_name() == "postgresql" else {}
    try:
        return create_engine(url, connect_args=args)
    except (ImportError, SQLAlchemyError) as err:
        raise InvalidInput(f"cannot open {redact(uri)}: {err}".splitlines()[0]) from err


class SqlSource:
    """An MLflow tracking database, read with plain SQL."""

    def __init__(self, uri: str) -> None:
        self.description = redact(uri)
        self._engine = _engine(uri)
        try:
            with self._engine.connect() as conn:
                self._tables = set(inspect(conn).get_table_names())
        except SQLAlchemyError as err:
            self._engine.dispose()
            reason = str(getattr(err, "orig", None) or err).splitlines()[0]
            raise InvalidInput(f"cannot read the MLflow database {self.description}: {reason}") from err
        missing = {"experiments", "runs", "metrics", "params", "tags"} - self._tables
        if missing:
            self._engine.dispose()
            raise InvalidInput(f"{self.description} is not an MLflow tracking database: it has no "
                               f"{', '.join(sorted(missing))} table")

    def _rows(self, sql: str, **params: Any) -> list[Any]:
        with self._engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def _pairs(self, sql: str, **params: Any) -> dict[str, str]:
        return {r[0]: "" if r[1] is None else str(r[1]) for r in self._rows(sql, **params)}

    def experiments(self) -> list[MlflowExperiment]:
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        for r in self._rows("SELECT experiment_id, key, value FROM experiment_tags"):
            tags[str(r.experiment_id)][r.key] = r.value or ""
        return [MlflowExperiment(str(r.experiment_id), r.name, r.lifecycle_stage or "active", r.creation_time or 0,
                                 tags[str(r.experiment_id)])
                for r in self._rows("SELECT experiment_id, name, lifecycle_stage, creation_time FROM experiments "
                                    "ORDER BY experiment_id")]

    def runs(self, experiment_id: str) -> list[MlflowRun]:
        rows = self._rows("SELECT run_uuid, name, status, start_time, end_time, user_id, lifecycle_stage, artifact_uri "
                          "FROM runs WHERE experiment_id = :e ORDER BY start_time, run_uuid", e=int(experiment_id))
        return [MlflowRun(r.run_uuid, experiment_id, r.name or "", r.status or "FINISHED", r.start_time or 0,
                          r.end_time, r.user_id or "", r.lifecycle_stage or "active", r.artifact_uri or "")
                for r in rows]

    def run_data(self, run: MlflowRun) -> tuple[dict[str, str], dict[str, str], list[Point]]:
        params = self._pairs("SELECT key, value FROM params WHERE run_uuid = :r", r=run.id)
        tags = self._pairs("SELECT key, value FROM tags WHERE run_uuid = :r", r=run.id)
        with self._engine.connect() as conn:
            cursor = conn.exec_driver_sql(
                "SELECT key, value, step, timestamp, is_nan FROM metrics WHERE run_uuid = "
                + ("?" if self._engine.dialect.paramstyle == "qmark" else "%s") + " ORDER BY key, step, timestamp",
                (run.id,))
            points = [(k, math.nan if nan else v, s, t) for k, v, s, t, nan in cursor]
        return params, tags, points

    def logged_models(self, experiment_ids: list[str]) -> list[MlflowLoggedModel]:
        if "logged_models" not in self._tables or not experiment_ids:
            return []
        wanted = {int(e) for e in experiment_ids}
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        params: dict[str, dict[str, str]] = defaultdict(dict)
        for r in self._rows("SELECT model_id, tag_key, tag_value FROM logged_model_tags"):
            tags[r.model_id][r.tag_key] = r.tag_value
        for r in self._rows("SELECT model_id, param_key, param_value FROM logged_model_params"):
            params[r.model_id][r.param_key] = r.param_value
        rows = self._rows("SELECT model_id, experiment_id, name, artifact_location, creation_timestamp_ms, "
                          "last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id "
                          "FROM logged_models ORDER BY creation_timestamp_ms, model_id")
        return [MlflowLoggedModel(r.model_id, str(r.experiment_id), r.name, _LOGGED_MODEL_STATUS.get(r.status, "UNSPECIFIED"),
                                  r.artifact_location, r.source_run_id, r.creation_timestamp_ms,
                                  r.last_updated_timestamp_ms, r.lifecycle_stage or "active", r.model_type or "",
                                  tags[r.model_id], params[r.model_id])
                for r in rows if r.experiment_id in wanted]

    def registered_models(self) -> list[MlflowRegisteredModel]:
        if "registered_models" not in self._tables:
            return []
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        aliases: dict[str, dict[str, int]] = defaultdict(dict)
        for r in self._rows("SELECT name, key, value FROM registered_model_tags"):
            tags[r.name][r.key] = r.value or ""
        if "registered_model_aliases" in self._tables:
            for r in self._rows("SELECT name, alias, version FROM registered_model_aliases"):
                aliases[r.name][r.alias] = int(r.version)
        return [MlflowRegisteredModel(r.name, r.description or "", r.creation_time or 0, tags[r.name], aliases[r.name])
                for r in self._rows("SELECT name, description, creation_time FROM registered_models ORDER BY creation_time, name")]

    def versions(self, name: str) -> list[MlflowModelVersion]:
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        for r in self._rows("SELECT version, key, value FROM model_version_tags WHERE name = :n", n=name):
            tags[int(r.version)][r.key] = r.value or ""
        storage = ", storage_location" if "storage_location" in self._columns("model_versions") else ""
        rows = self._rows("SELECT version, creation_time, description, user_id, source, run_id, status, current_stage"
                          f"{storage} FROM model_versions WHERE name = :n AND COALESCE(current_stage, '') != 'Deleted_Internal' "
                          "ORDER BY version", n=name)
        return [MlflowModelVersion(name, int(r.version), r.creation_time or 0, r.description or "", r.user_id or "",
                                   r.source or "", r.run_id or None, getattr(r, "storage_location", None) or None,
                                   r.status or "READY", tags[int(r.version)])
                for r in rows]

    def _columns(self, table: str) -> set[str]:
        with self._engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns(table)}

    def close(self) -> None:
        self._engine.dispose()
