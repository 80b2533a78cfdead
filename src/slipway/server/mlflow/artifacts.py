"""MLflow's proxied artifact API (``/api/2.0/mlflow-artifacts/artifacts/...``) over Slipway's blob store.

A run's artifact root is ``mlflow-artifacts:/<experiment>/<run>/artifacts``, so every artifact
path is ``<experiment>/<run_id>/artifacts/<file>``. An upload is hashed into a blob and recorded
as the run's artifact (``tracking.write`` in the run's project, checked before the body is read;
audited); downloads and listings read the run's
recorded artifacts, including the files inside folder artifacts Slipway's own client logged.
Paths with ``..``, ``.``, empty parts, backslashes or a leading ``/`` are refused before anything
is read or written.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from slipway.blobs.manifest import load_manifest
from slipway.core.auth import authorised
from slipway.core.errors import NotFound
from slipway.core.hashing import hash_file
from slipway.identity.authenticator import Authenticator
from slipway.local import LocalTransport
from slipway.server.mlflow.convert import artifact_uri, experiment_id
from slipway.server.mlflow.protocol import MlflowCall, MlflowError, Routes, error_body

PREFIXES = ("/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts")


def split_path(path: str) -> tuple[str, str]:
    """``(run_id, path inside the run)`` of ``<experiment>/<run_id>/artifacts[/<file>]``."""
    if not path or path.startswith("/") or "\\" in path or "\x00" in path or ":" in path.split("/")[0]:
        raise MlflowError(f"Invalid artifact path {path!r}: it must be relative, like '<experiment>/<run>/artifacts/f'")
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise MlflowError(f"Invalid artifact path {path!r}: no empty, '.' or '..' parts")
    if len(parts) < 3 or parts[2] != "artifacts":
        raise MlflowError(f"Invalid artifact path {path!r}: expected '<experiment>/<run_id>/artifacts/...'")
    return parts[1], "/".join(parts[3:])


def run_files(call: MlflowCall, run_id: str) -> dict[str, tuple[str, int]]:
    """Every file of a run's artifacts, ``{path: (digest, size)}``, folders expanded."""
    files: dict[str, tuple[str, int]] = {}
    for artifact in call.tracking.list_artifacts(run_id):
        if artifact.kind == "file":
            files[artifact.path] = (artifact.digest, artifact.size)
        else:
            for entry in load_manifest(call.base.blobs, artifact.digest).entries:
                files[f"{artifact.path}/{entry.path}"] = (entry.digest, entry.size)
    return files


def listing(call: MlflowCall, path: str) -> dict[str, Any]:
    run_id, inner = split_path(path)
    prefix = f"{inner}/" if inner else ""
    children: dict[str, dict[str, Any]] = {}
    for name, (_, size) in sorted(run_files(call, run_id).items()):
        if not name.startswith(prefix):
            continue
        head, _, rest = name[len(prefix):].partition("/")
        children[head] = {"path": head, "is_dir": True} if rest else {"path": head, "is_dir": False, "file_size": size}
    return {"files": list(children.values())}


def list_run_artifacts(call: MlflowCall) -> dict[str, Any]:
    """``GET /api/2.0/mlflow/artifacts/list`` (MLflow's REST ListArtifacts, which clients other
    than the Python one use): one folder of a run's artifacts, paths from the run's root. A path
    with ``..`` or the like answers MLflow's ``400 Invalid path``."""
    rid = call.text("run_id", call.fields.get("run_uuid"))
    path = call.optional("path") or ""
    if path and (path.startswith("/") or "\\" in path or "\x00" in path
                 or any(part in ("", ".", "..") for part in path.split("/"))):
        raise MlflowError("Invalid path")
    run = call.tracking.get_run(rid)
    root = artifact_uri(experiment_id(call.tracking.get_experiment(run.experiment_id)), rid)
    found = listing(call, f"x/{rid}/artifacts" + (f"/{path}" if path else ""))["files"]
    files = [{**entry, "path": f"{path}/{entry['path']}" if path else entry["path"]} for entry in found]
    return {"root_uri": root, "files": files}


def upload(call: MlflowCall, path: str, tmp: str) -> dict[str, Any]:
    run_id, inner = split_path(path)
    if not inner:
        raise MlflowError(f"Invalid artifact path {path!r}: it names no file")
    digest = hash_file(tmp)
    call.base.blobs.put_file(tmp, digest)
    call.tracking.record_artifact(run_id, inner, digest, "file", os.path.getsize(tmp))
    return {}


def download(call: MlflowCall, path: str) -> Response:
    """The artifact's bytes: streamed from the blob's file when the store keeps it loose (as the
    blob routes do), read and verified otherwise."""
    run_id, inner = split_path(path)
    found = run_files(call, run_id).get(inner)
    if found is None:
        raise NotFound(f"run {run_id} has no artifact {inner!r}")
    loose = call.base.blobs.file_path(found[0])
    if loose is not None:
        return FileResponse(loose, media_type="application/octet-stream")
    return Response(call.base.blobs.read_bytes(found[0]), media_type="application/octet-stream")


def add_artifact_routes(app: FastAPI, base: LocalTransport, auth: Authenticator) -> None:
    async def caller(request: Request) -> MlflowCall:
        principal = await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
        return MlflowCall(base, principal, dict(request.query_params))

    async def list_route(request: Request) -> Response:
        try:
            call = await caller(request)
            return JSONResponse(await run_in_threadpool(listing, call, call.fields.get("path", "")))
        except Exception as error:
            return error_body(error)

    async def get_route(request: Request, artifact_path: str) -> Response:
        try:
            return await run_in_threadpool(download, await caller(request), artifact_path)
        except Exception as error:
            return error_body(error)

    async def put_route(request: Request, artifact_path: str) -> Response:
        tmp = ""
        try:
            call = await caller(request)
            if not call.principal.can_somewhere("tracking.write"):  # refused before the path is read
                call.principal.require("tracking.write", "upload artifacts")
            run_id, _ = split_path(artifact_path)
            # Checked before the body is read: the write it leads to is record_artifact's.
            await run_in_threadpool(authorised, call.tracking, "record_artifact", ("tracking.write",),
                                    {"run_id": run_id})
            fd, tmp = tempfile.mkstemp(prefix="mlflow-upload-")
            with os.fdopen(fd, "wb") as handle:
                async for chunk in request.stream():
                    handle.write(chunk)
            return JSONResponse(await run_in_threadpool(upload, call, artifact_path, tmp))
        except Exception as error:
            return error_body(error)
        finally:
            if tmp:
                os.unlink(tmp)

    for prefix in PREFIXES:
        app.add_api_route(prefix, list_route, methods=["GET"], include_in_schema=False, tags=["mlflow"])
        app.add_api_route(prefix + "/{artifact_path:path}", get_route, methods=["GET"], include_in_schema=False,
                          tags=["mlflow"])
        app.add_api_route(prefix + "/{artifact_path:path}", put_route, methods=["PUT"], include_in_schema=False,
                          tags=["mlflow"])


ROUTES: Routes = [("GET", "/artifacts/list", list_run_artifacts)]
