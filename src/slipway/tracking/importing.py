"""Writing a run brought in from another tracking system (``slipway import mlflow``) whole.

An imported run keeps its own start and end times, status, user, every metric point with its
step and timestamp, params, tags and artifacts. All of it is one transaction with one
``run.import`` audit event, so a killed import leaves either the whole run or none of it; the
run's origin tag makes a second import of it a no-op.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, select

from slipway.blobs.base import BlobStore
from slipway.blobs.manifest import check_stored_manifest
from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput, NotFound
from slipway.core.events import Action, Subject
from slipway.core.hashing import check_digest
from slipway.core.ids import new_id
from slipway.core.limits import TAG_VALUE
from slipway.core.names import check_key, check_label, check_name, check_value
from slipway.core.paths import normalise_relative_path
from slipway.store.context import ServiceContext
from slipway.store.schema.tracking import params as run_params
from slipway.store.schema.tracking import run_artifacts, run_tags, runs
from slipway.tracking.metric_points import insert_points, metric_rows, upsert_latest
from slipway.tracking.records import RUN_STATUSES, ImportedRun, RunArtifact

_RUN_ID = re.compile(r"[0-9a-f]{32}")


def check_artifact(blobs: BlobStore, path: str, digest: str, kind: str, size: int) -> RunArtifact:
    """An artifact a caller asks to record, checked: a safe relative path (``a/./b`` becomes
    ``a/b``), a stored blob, and for a folder a manifest whose every path is safe."""
    path = normalise_relative_path(check_key(path, "artifact path"), "artifact path")
    check_digest(digest)
    if kind not in ("file", "dir"):
        raise InvalidInput(f"artifact kind must be 'file' or 'dir', not {kind!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInput(f"artifact size must be a non-negative integer, got {size!r}")
    if not blobs.exists(digest):
        raise InvalidInput(f"blob {digest} is not in the artifact store; upload it first")
    if kind == "dir":
        check_stored_manifest(blobs, digest)
    return RunArtifact(path, digest, kind, int(size))


def _millis(value: Any, what: str, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{what} must be milliseconds since the epoch, got {value!r}")
    return value


def checked_rows(blobs: BlobStore, item: ImportedRun, run_id: str) -> dict[str, Any]:
    """Every row of the run, checked before the transaction opens (a bad value rejects the run)."""
    if not isinstance(item, ImportedRun):
        raise InvalidInput(f"import_run takes an ImportedRun record, got {type(item).__name__}")
    check_label(item.experiment, "experiment name")
    check_label(item.name, "run name")
    check_name(item.user, "user")
    if item.status not in RUN_STATUSES or item.status == "RUNNING":
        raise InvalidInput(f"an imported run has ended (FINISHED, FAILED or KILLED), not {item.status!r}")
    start = _millis(item.start_ms, "start_ms")
    end = _millis(item.end_ms, "end_ms", optional=True)
    if not isinstance(item.origin, dict) or len(item.origin) != 1:
        raise InvalidInput(f"origin is one tag naming where the run came from, got {item.origin!r}")
    tags = {**item.tags, **item.origin}
    tag_rows = [{"run_id": run_id, "key": check_key(k, "tag key"), "value": check_value(v, f"tag {k}", TAG_VALUE)}
                for k, v in tags.items()]
    param_rows = [{"run_id": run_id, "key": check_key(k, "param key"), "value": check_value(v, f"param {k}")}
                  for k, v in item.params.items()]
    points, latest = metric_rows(run_id, item.metrics, start or 0)
    artifacts = [check_artifact(blobs, a.path, a.digest, a.kind, a.size) for a in item.artifacts]
    if len({a.path for a in artifacts}) != len(artifacts):
        raise InvalidInput(f"run {item.name!r} lists an artifact path twice")
    return {"run": {"id": run_id, "name": item.name, "status": item.status, "start_ms": start, "end_ms": end,
                    "heartbeat_ms": end, "lifecycle": "active", "user": item.user,
                    "git_commit": (item.git_commit or "")[:64] or None, "git_dirty": None,
                    "source": (item.source or "")[:500] or None, "packages_digest": None},
            "tags": tag_rows, "params": param_rows, "points": points, "latest": latest, "artifacts": artifacts}


def run_id_for(item: ImportedRun) -> str:
    """The id the run gets: its own when it has one (checked), else a new one."""
    if item.id is None:
        return new_id()
    if not isinstance(item.id, str) or not _RUN_ID.fullmatch(item.id):
        raise InvalidInput(f"an imported run's id is 32 lowercase hex characters, got {item.id!r}"[:200])
    return item.id


def imported_run_id(conn: Connection, origin: dict[str, str], run_id: str | None) -> str | None:
    """The run already imported from ``origin`` (one tag), if any.

    Raises:
        Conflict: ``run_id`` is taken by a run from elsewhere.
    """
    [(key, value)] = origin.items()
    if run_id is None:
        return conn.execute(select(run_tags.c.run_id).where(
            run_tags.c.key == key, run_tags.c.value == value)).scalar()
    if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
        return None
    same = conn.execute(select(run_tags.c.value).where(run_tags.c.run_id == run_id, run_tags.c.key == key)).scalar()
    if same != value:
        raise Conflict(f"run id {run_id} is taken by a run that was not imported from {key}={value}")
    return run_id


def imported_origins(conn: Connection, origin_key: str) -> dict[str, str]:
    """Every origin value under tag ``origin_key`` mapped to the Slipway run imported from it."""
    check_key(origin_key, "origin tag key")
    rows = conn.execute(select(run_tags.c.value, run_tags.c.run_id).where(run_tags.c.key == origin_key))
    return {r.value: r.run_id for r in rows}


def insert_imported_run(ctx: ServiceContext, conn: Connection, experiment_id: str, item: ImportedRun,
                        rows: dict[str, Any]) -> None:
    """Write the checked ``rows`` of ``item`` and its ``run.import`` event in ``conn``'s transaction."""
    run_id = rows["run"]["id"]
    if item.parent_id is not None and conn.execute(select(runs.c.id).where(runs.c.id == item.parent_id)).first() is None:
        raise NotFound(f"parent run {item.parent_id!r} does not exist")
    conn.execute(runs.insert().values(experiment_id=experiment_id, parent_id=item.parent_id, **rows["run"]))
    if rows["tags"]:
        conn.execute(run_tags.insert(), rows["tags"])
    if rows["params"]:
        conn.execute(run_params.insert(), rows["params"])
    insert_points(conn, rows["points"])
    upsert_latest(conn, rows["latest"])
    if rows["artifacts"]:
        created = now_ms()
        conn.execute(run_artifacts.insert(), [{"run_id": run_id, "path": a.path, "digest": a.digest, "kind": a.kind,
                                               "size": a.size, "created_ms": created} for a in rows["artifacts"]])
    ctx.audit(conn, Action.RUN_IMPORT, Subject.RUN, run_id,
              {"experiment": item.experiment, "name": item.name, "origin": item.origin, "status": item.status,
               "metrics": len(rows["points"]), "params": sorted(item.params), "tags": len(rows["tags"]),
               "artifacts": [a.path for a in rows["artifacts"]]})

