"""What an MLflow store holds, as read by either reader (:mod:`.sql` or :mod:`.rest`).

The shapes follow MLflow's own entities, with times in milliseconds and ids as strings.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Protocol

from slipway.core.errors import InvalidInput

# One metric point: (key, value, step, timestamp_ms); NaN and infinities stay floats.
Point = tuple[str, float, int, int]
_MODEL_URI = re.compile(r"^models:/(m-[0-9a-f]{32})$")


@dataclasses.dataclass
class MlflowExperiment:
    id: str
    name: str
    lifecycle: str  # active | deleted
    created_ms: int
    tags: dict[str, str]


@dataclasses.dataclass
class MlflowRun:
    id: str
    experiment_id: str
    name: str
    status: str  # RUNNING | SCHEDULED | FINISHED | FAILED | KILLED
    start_ms: int
    end_ms: int | None
    user: str
    lifecycle: str
    artifact_uri: str


@dataclasses.dataclass
class MlflowLoggedModel:
    id: str
    experiment_id: str
    name: str
    status: str  # READY | PENDING | FAILED
    artifact_uri: str
    source_run_id: str | None
    created_ms: int
    updated_ms: int
    lifecycle: str
    model_type: str
    tags: dict[str, str]
    params: dict[str, str]


@dataclasses.dataclass
class MlflowModelVersion:
    name: str
    version: int
    created_ms: int
    description: str
    user: str
    source: str
    run_id: str | None
    storage_uri: str | None
    status: str
    tags: dict[str, str]

    @property
    def model_id(self) -> str | None:
        """The MLflow 3 logged model this version registers (its source is ``models:/m-…``)."""
        match = _MODEL_URI.match(self.source or "")
        return match.group(1) if match else None


@dataclasses.dataclass
class MlflowRegisteredModel:
    name: str
    description: str
    created_ms: int
    tags: dict[str, str]
    aliases: dict[str, int]


class MlflowSource(Protocol):
    """A readable MLflow tracking store. Readers raise :class:`InvalidInput` for a store they cannot
    read (with the reason) and never write to it."""

    description: str  # the store, without credentials

    def experiments(self) -> list[MlflowExperiment]: ...

    def runs(self, experiment_id: str) -> list[MlflowRun]: ...

    def run_data(self, run: MlflowRun) -> tuple[dict[str, str], dict[str, str], list[Point]]:
        """(params, tags, every metric point) of ``run``."""
        ...

    def logged_models(self, experiment_ids: list[str]) -> list[MlflowLoggedModel]: ...

    def registered_models(self) -> list[MlflowRegisteredModel]: ...

    def versions(self, name: str) -> list[MlflowModelVersion]: ...

    def close(self) -> None: ...


def redact(uri: str) -> str:
    """``uri`` without a password, for messages and the ``mlflow.import.source`` tag."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", uri)


def open_source(uri: str) -> MlflowSource:
    """The reader for an MLflow tracking URI: a database URL, an ``http(s)://`` server, or a file
    store (``file:///…/mlruns`` or the ``mlruns`` folder's path).

    Raises:
        InvalidInput: any other URI (with what is accepted), or a store that cannot be read.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidInput("an MLflow tracking URI is needed: sqlite:///mlflow.db, postgresql://…, http(s)://host:port, "
                           "or an mlruns folder")
    if uri.startswith(("http://", "https://")):
        from slipway.importers.mlflow.rest import RestSource

        return RestSource(uri)
    if uri.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "postgres", "mysql", "mssql"):
        from slipway.importers.mlflow.sql import SqlSource

        return SqlSource(uri)
    from slipway.importers.mlflow.files import FileSource, store_path

    folder = store_path(uri)
    if folder is not None:
        return FileSource(folder)
    raise InvalidInput(f"{redact(uri)!r} is not an MLflow tracking URI: use a database URL (sqlite:///mlflow.db, "
                       "postgresql://…), the URL of an MLflow server (http://host:5000), or MLflow's file store "
                       "(file:///path/to/mlruns or the folder's path; it must exist)")
