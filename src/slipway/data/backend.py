"""The data backend: datasets, versions and schemas as SQL transactions.

Clients hash and upload blobs first (through ``host.blobs``), then call :meth:`commit_version`,
which checks that the manifest and every blob it names are stored before it writes the version
row. A client killed half-way therefore leaves only unreferenced blobs (collected by ``gc``),
never a version that points at missing data.
"""

from __future__ import annotations

import random
import time
from typing import Any

import orjson
from sqlalchemy import Connection, select
from sqlalchemy import exc as sa_exc

from slipway.blobs.manifest import check_stored_manifest
from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput
from slipway.core.events import Action, Subject
from slipway.core.hashing import check_digest
from slipway.core.ids import new_id
from slipway.core.names import check_name, check_value
from slipway.data.integrity import verify_version_blobs
from slipway.data.records import Dataset, DatasetUsage, DatasetVersion, SchemaRevision, VerifyReport
from slipway.data.rows import (
    dataset_row,
    latest_version_row,
    list_dataset_records,
    to_version,
    version_record,
)
from slipway.data.schema import load_schema
from slipway.data.usage import dataset_usage
from slipway.store.context import ServiceContext
from slipway.store.projects import ProjectScope, dataset_project, owning_project, readable_names, scoped_by
from slipway.store.schema.data import dataset_schemas, dataset_versions, datasets

KINDS = ("file", "folder", "table")
COMMIT_ATTEMPTS = 8
MAX_SCHEMA_BYTES = 4 << 20


# A project-scoped principal's call is authorised in the dataset's project; the listing shows
# readable datasets only.
DATA_SCOPE = ProjectScope({"name": dataset_project}, listings=frozenset({"list_datasets"}))


class DataBackend:
    _projects_of = scoped_by(DATA_SCOPE)

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- versions -------------------------------------------------------------------------------
    @endpoint("data.write")
    def commit_version(
        self, name: str, digest: str, kind: str, rows: int | None = None,
        schema: dict[str, dict[str, str]] | None = None, profile_digest: str | None = None,
        message: str = "", key_columns: list[str] | None = None, project: str | None = None,
    ) -> DatasetVersion:
        """Record the manifest ``digest`` as the next version of ``name`` (creating the dataset, in
        ``project`` or the workspace's).

        If the latest version already has this digest, nothing is written and that version is
        returned with ``created=False``.

        Raises:
            InvalidInput: a malformed argument, or a blob the manifest names is not stored yet.
            Conflict: other writers kept taking the next version number (after several retries).
        """
        check_name(name, "dataset name")
        check_digest(digest)
        if kind not in KINDS:
            raise InvalidInput(f"dataset kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 0):
            raise InvalidInput(f"rows must be a non-negative integer, got {rows!r}")
        check_value(message, "message")
        keys = [_check_column_name(k) for k in (key_columns or [])]
        schema = schema or {}
        _check_keys_in_schema(keys, schema)
        if not self.ctx.blobs.exists(digest):
            raise InvalidInput(f"manifest {digest} is not in the artifact store; upload the files and manifest first")
        manifest = check_stored_manifest(self.ctx.blobs, digest)  # every path safe, or nothing is recorded
        if kind != "folder" and len(manifest.entries) != 1:
            raise InvalidInput(f"a {kind} version holds exactly one file; manifest {digest} has {len(manifest.entries)}")
        schema_json = orjson.dumps(schema).decode()
        if len(schema_json) > MAX_SCHEMA_BYTES:
            raise InvalidInput(f"the schema of {name!r} is {len(schema_json)} bytes; the limit is {MAX_SCHEMA_BYTES}")
        wanted = [e.digest for e in manifest.entries] + ([check_digest(profile_digest)] if profile_digest else [])
        missing = self.ctx.blobs.missing(wanted)
        if missing:
            raise InvalidInput(f"{len(missing)} blobs of manifest {digest} are not stored (e.g. {missing[0]}); "
                               "nothing was recorded")
        values = {"digest": digest, "kind": kind, "rows": rows, "size": manifest.total_size,
                  "file_count": len(manifest.entries), "schema": schema_json,
                  "profile_digest": profile_digest, "message": message, "project": project}
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                with self.ctx.db.write() as conn:
                    return self._commit(conn, name, keys if key_columns is not None else None, values)
            except sa_exc.IntegrityError as err:
                # Another writer took the same version number (or created the dataset) first.
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise Conflict(f"dataset {name!r} is being changed by other writers; try again") from err
                time.sleep(0.02 * (attempt + 1) + random.random() * 0.05)
        raise AssertionError("unreachable")  # pragma: no cover

    def _commit(self, conn: Connection, name: str, keys: list[str] | None, values: dict[str, Any]) -> DatasetVersion:
        dataset = conn.execute(select(datasets).where(datasets.c.name == name)).first()
        project = values.pop("project", None)
        if dataset is None:
            conn.execute(datasets.insert().values(id=new_id(), name=name, description="",
                                                  key_columns=orjson.dumps(keys or []).decode(), created_ms=now_ms(),
                                                  project=owning_project(conn, project, self.ctx.settings.project)))
            self.ctx.audit(conn, Action.DATASET_CREATE, Subject.DATASET, name, {"key_columns": keys or []})
        elif keys is not None and orjson.loads(dataset.key_columns) != keys:
            conn.execute(datasets.update().where(datasets.c.id == dataset.id).values(key_columns=orjson.dumps(keys).decode()))
            self.ctx.audit(conn, Action.DATASET_SET_KEY, Subject.DATASET, name, {"key_columns": keys})
        query = select(datasets).where(datasets.c.name == name)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()  # serialise numbering per dataset
        dataset = conn.execute(query).one()
        latest = latest_version_row(conn, dataset.id)
        if latest is not None and latest.digest == values["digest"]:
            return to_version(dataset, latest, created=False)
        version = (latest.version if latest is not None else 0) + 1
        row = {"id": new_id(), "dataset_id": dataset.id, "version": version, "created_ms": now_ms(),
               "created_by": self.ctx.principal.name, **values}
        conn.execute(dataset_versions.insert().values(**row))
        self.ctx.audit(conn, Action.DATASET_VERSION_CREATE, Subject.DATASET_VERSION, f"{name}@{version}",
                       {"digest": values["digest"], "rows": values["rows"], "files": values["file_count"],
                        "size": values["size"]})
        return to_version(dataset, conn.execute(select(dataset_versions).where(dataset_versions.c.id == row["id"])).one())

    @endpoint("read")
    def get_version(self, name: str, version: int | None = None) -> DatasetVersion:
        """A version of a dataset; the latest when ``version`` is None."""
        check_name(name, "dataset name")
        with self.ctx.db.read() as conn:
            return version_record(conn, name, version)

    @endpoint("read")
    def list_versions(self, name: str) -> list[DatasetVersion]:
        check_name(name, "dataset name")
        with self.ctx.db.read() as conn:
            dataset = dataset_row(conn, name)
            rows = conn.execute(select(dataset_versions).where(dataset_versions.c.dataset_id == dataset.id)
                                .order_by(dataset_versions.c.version))
            return [to_version(dataset, r) for r in rows]

    @endpoint("read")
    def list_datasets(self) -> list[Dataset]:
        with self.ctx.db.read() as conn:
            found = list_dataset_records(conn)
            allowed = readable_names(self.ctx.principal, conn, datasets.c.name, [d.name for d in found])
            return [d for d in found if d.name in allowed]

    @endpoint("read")
    def usage(self, name: str, version: int) -> DatasetUsage:
        """The runs that logged this version as an input, and the model versions built from them."""
        with self.ctx.db.read() as conn:
            record = version_record(conn, name, version)
            return dataset_usage(conn, record)

    @endpoint("read")
    def verify_version(self, name: str, version: int | None = None) -> VerifyReport:
        """Re-hash every blob of a version where the blobs live and name any file that is corrupt or gone."""
        with self.ctx.db.read() as conn:
            record = version_record(conn, name, version)
        return verify_version_blobs(self.ctx.blobs, record)

    # -- schemas --------------------------------------------------------------------------------
    @endpoint("data.write")
    def save_schema(self, name: str, body: str, source_version: int | None = None) -> SchemaRevision:
        """Store a YAML schema as the next revision of the dataset's schema.

        Raises:
            InvalidInput: the YAML is not a valid schema (nothing is stored).
        """
        check_name(name, "dataset name")
        if not isinstance(body, str):
            raise InvalidInput("a schema is sent as YAML text")
        load_schema(body)
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                with self.ctx.db.write() as conn:
                    dataset = dataset_row(conn, name)
                    current = self._schema_row(conn, dataset.id, None)
                    if current is not None and current.body == body:
                        return _schema_record(name, current)
                    revision = (current.revision if current is not None else 0) + 1
                    row = {"dataset_id": dataset.id, "revision": revision, "body": body,
                           "source_version": source_version, "created_ms": now_ms(), "created_by": self.ctx.principal.name}
                    conn.execute(dataset_schemas.insert().values(**row))
                    self.ctx.audit(conn, Action.DATASET_SCHEMA_SAVE, Subject.DATASET, name, {"revision": revision})
                    return SchemaRevision(name, revision, body, source_version, row["created_ms"], row["created_by"])
            except sa_exc.IntegrityError as err:
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise Conflict(f"the schema of {name!r} is being changed by other writers; try again") from err
        raise AssertionError("unreachable")  # pragma: no cover

    @endpoint("read")
    def get_schema(self, name: str, revision: int | None = None) -> SchemaRevision:
        """A schema revision of the dataset (the newest when ``revision`` is None)."""
        check_name(name, "dataset name")
        with self.ctx.db.read() as conn:
            dataset = dataset_row(conn, name)
            row = self._schema_row(conn, dataset.id, revision)
        if row is None:
            from slipway.core.errors import NotFound

            raise NotFound(f"dataset {name!r} has no schema{f' revision {revision}' if revision else ''}; "
                           f"create one with 'slipway data schema infer {name}'")
        return _schema_record(name, row)

    @staticmethod
    def _schema_row(conn: Connection, dataset_id: str, revision: int | None) -> Any:
        query = select(dataset_schemas).where(dataset_schemas.c.dataset_id == dataset_id)
        if revision is not None:
            query = query.where(dataset_schemas.c.revision == revision)
        return conn.execute(query.order_by(dataset_schemas.c.revision.desc()).limit(1)).first()


def _schema_record(name: str, row: Any) -> SchemaRevision:
    return SchemaRevision(name, row.revision, row.body, row.source_version, row.created_ms, row.created_by)


def _check_column_name(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 250:
        raise InvalidInput(f"a key column is a non-empty column name, got {value!r}")
    return value


def _check_keys_in_schema(keys: list[str], schema: dict[str, dict[str, str]]) -> None:
    if not keys or not schema:
        return
    for key in keys:
        if not any(key in columns for columns in schema.values()):
            tables = {path: list(columns) for path, columns in schema.items()}
            raise InvalidInput(f"key column {key!r} is not a column of the data; columns: {tables}")
