"""Blob upload and download for remote clients. An upload is hashed on arrival and refused if its
bytes do not match the digest in the path, so nothing corrupt is ever stored."""

from __future__ import annotations

import os
import tempfile

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from slipway.core.errors import IntegrityError, InvalidInput, NotFound, PermissionDenied
from slipway.core.hashing import check_digest, hash_file
from slipway.governance.authenticator import Authenticator
from slipway.local import LocalTransport

_WRITERS = ("tracking.write", "data.write", "registry.write", "governance.validate", "deploy", "pipelines.run")


def add_blob_routes(app: FastAPI, base: LocalTransport, auth: Authenticator) -> None:
    blobs = base.blobs

    @app.post("/api/v1/blobs/missing", tags=["blobs"])
    async def missing(request: Request) -> dict[str, list[str]]:
        await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
        body = await request.json()
        digests = body.get("digests") if isinstance(body, dict) else None
        if not isinstance(digests, list):
            raise InvalidInput("send {\"digests\": [...]}")
        return {"missing": await run_in_threadpool(blobs.missing, [check_digest(d) for d in digests])}

    @app.put("/api/v1/blobs/{digest}", tags=["blobs"])
    async def put(digest: str, request: Request) -> dict[str, str]:
        principal = await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
        if not any(principal.can(p) for p in _WRITERS):
            raise PermissionDenied(f"{principal.name} may not upload artifacts")
        check_digest(digest)
        fd, tmp = tempfile.mkstemp(prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in request.stream():
                    handle.write(chunk)
            actual = await run_in_threadpool(hash_file, tmp)
            if actual != digest:
                raise IntegrityError(f"uploaded bytes hash to {actual}, not {digest}; nothing was stored")
            await run_in_threadpool(blobs.put_file, tmp, digest)
        finally:
            os.unlink(tmp)
        return {"digest": digest}

    @app.get("/api/v1/blobs/{digest}", tags=["blobs"])
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
