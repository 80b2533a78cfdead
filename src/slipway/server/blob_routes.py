"""Blob upload and download for remote clients. An upload is hashed as it arrives and refused if its
bytes do not match the digest in the path, so nothing corrupt is ever stored.

Uploads stream to a temporary file (in the store's ``tmp`` folder for a local store, else in
``$SLIPWAY_HOME/tmp``), never into memory, and are capped by ``max_upload_bytes`` (413; see
:mod:`slipway.server.body_limits`). A killed upload's temporary file is removed at the next
start of the server or by ``slipway gc``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TypedDict

import blake3
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from slipway.blobs.gc import remove_stale_temporaries
from slipway.core.errors import IntegrityError, InvalidInput, NotFound, PermissionDenied
from slipway.core.hashing import check_digest
from slipway.core.settings import Settings
from slipway.identity.authenticator import Authenticator
from slipway.local import LocalTransport
from slipway.server.requests import check_value_count, describe
from slipway.server.responses import returns

_WRITERS = ("tracking.write", "data.write", "registry.write", "governance.validate", "deploy", "pipelines.run")
# A start-up removes upload temporaries untouched this long (a live upload writes to its file).
STALE_UPLOAD_SECONDS = 900.0


class MissingRequest(BaseModel):
    """The digests a client is about to upload; the answer lists those the store lacks."""

    model_config = ConfigDict(extra="forbid")
    digests: list[str] = Field(max_length=5000)


class MissingBlobs(TypedDict):
    """The digests of a ``missing`` request that the store lacks."""

    missing: list[str]


class StoredBlob(TypedDict):
    """The digest an upload was stored under."""

    digest: str


def upload_folder(base: LocalTransport, settings: Settings) -> str:
    """Where uploads are written while they arrive (created if needed)."""
    folder = base.blobs.temporary_folder() or str(Path(settings.home, "tmp"))
    os.makedirs(folder, exist_ok=True)
    return folder


def add_blob_routes(app: FastAPI, base: LocalTransport, auth: Authenticator, settings: Settings) -> None:
    blobs = base.blobs
    folder = upload_folder(base, settings)
    remove_stale_temporaries(folder, STALE_UPLOAD_SECONDS)

    missing_schema = MissingRequest.model_json_schema()

    @app.post("/api/v1/blobs/missing", tags=["blobs"], response_model=None, openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": missing_schema}}}})
    @returns(MissingBlobs)
    async def missing(request: Request) -> MissingBlobs:
        await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
        try:
            body = await request.body()
            check_value_count("blobs.missing", body)
            parsed = MissingRequest.model_validate_json(body)
        except ValidationError as err:
            raise InvalidInput(f"blobs.missing: {describe(err)}") from None
        return {"missing": await run_in_threadpool(blobs.missing, [check_digest(d) for d in parsed.digests])}

    @app.put("/api/v1/blobs/{digest}", tags=["blobs"], response_model=None)
    @returns(StoredBlob)
    async def put(digest: str, request: Request) -> StoredBlob:
        principal = await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
        if not any(principal.can(p) for p in _WRITERS):
            raise PermissionDenied(f"{principal.name} may not upload artifacts")
        check_digest(digest)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="upload-")
        try:
            hasher = blake3.blake3()
            with os.fdopen(fd, "wb") as handle:
                async for chunk in request.stream():
                    hasher.update(chunk)
                    handle.write(chunk)
            actual = hasher.hexdigest()
            if actual != digest:
                raise IntegrityError(f"uploaded bytes hash to {actual}, not {digest}; nothing was stored")
            await run_in_threadpool(blobs.adopt, tmp, digest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return {"digest": digest}

    @app.get("/api/v1/blobs/{digest}", tags=["blobs"])
    @returns(bytes)
    async def get(digest: str, request: Request) -> Response:
        principal = await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
        principal.require("read", "download artifacts")
        check_digest(digest)
        if not blobs.exists(digest):
            raise NotFound(f"blob {digest} is not in the artifact store")
        loose = blobs.file_path(digest)
        if loose is not None:
            return FileResponse(loose, media_type="application/octet-stream")
        return Response(await run_in_threadpool(blobs.read_bytes, digest), media_type="application/octet-stream")
