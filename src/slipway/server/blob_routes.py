"""Blob upload and download for remote clients. An upload is hashed as it arrives and refused if its
bytes do not match the digest in the path, so nothing corrupt is ever stored.

Uploads stream to a temporary file (in the store's ``tmp`` folder for a local store, else in
``$SLIPWAY_HOME/tmp``), never into memory, and are capped by ``max_upload_bytes`` (413; see
:mod:`slipway.server.body_limits`). A killed upload's temporary file is removed at the next
start of the server or by ``slipway gc``.

A download needs ``read``. A caller holding it only through project bindings gets a blob only
when an object of a project it may read refers to it (:func:`slipway.store.owners.blob_projects`:
a model bundle, a dataset version, a run artifact, …), or when ``?via=MANIFEST`` names a folder
manifest such an object refers to and that manifest lists the blob (a file of a bundle; the
remote client sends it by itself). Otherwise 403 naming the project of the objects that do refer
to it, so knowing a digest opens nothing.

``POST /api/v1/blobs/missing`` asks the same question of every digest at once
(:func:`downloadable`, a dozen queries for up to 5,000 digests): for such a caller a stored digest it could
not download is reported missing, so the answer tells it nothing it could not learn by
downloading. The client then uploads the bytes, which it holds anyway; an upload of a stored blob
succeeds with the same answer as a new one. The request's ``via`` (file digest -> manifest) lets a
file of a readable folder count, as ``?via=`` does for a download.
"""

from __future__ import annotations

import contextlib
import functools
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
from slipway.blobs.manifest import check_stored_manifest
from slipway.blobs.store import BlobStore
from slipway.core.auth import Principal
from slipway.core.errors import IntegrityError, InvalidInput, NotFound, PermissionDenied
from slipway.core.hashing import check_digest
from slipway.core.settings import Settings
from slipway.identity.authenticator import Authenticator
from slipway.local import LocalTransport
from slipway.server.requests import check_value_count, describe
from slipway.server.responses import returns
from slipway.store.database import Database
from slipway.store.owners import blob_owners, blob_projects

_WRITERS = ("tracking.write", "data.write", "registry.write", "governance.validate", "deploy", "pipelines.run")
# A start-up removes upload temporaries untouched this long (a live upload writes to its file).
STALE_UPLOAD_SECONDS = 900.0


class MissingRequest(BaseModel):
    """The digests a client is about to upload; the answer lists those the store lacks."""

    model_config = ConfigDict(extra="forbid")
    digests: list[str] = Field(max_length=5000)
    # file digest -> a folder manifest listing it, as ``?via=`` for a download (project-bound callers)
    via: dict[str, str] = Field(default_factory=dict, max_length=5000)


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


def downloadable(db: Database, blobs: BlobStore, readable: frozenset[str], digests: list[str],
                 via: dict[str, str]) -> set[str]:
    """The digests among ``digests`` a caller reading only the ``readable`` projects may download:
    those an object of such a project refers to, and those listed in the manifest ``via`` names
    for them when such an object refers to that manifest. Batched: one request of many digests
    costs a dozen queries in all (up to 5,000 digests), not a dozen each."""
    with db.read() as conn:
        owners = blob_owners(conn, digests)
        allowed = {d for d in digests if owners.get(d, set()) & readable}
        through = {d: via[d] for d in digests if d not in allowed and via.get(d) not in (None, d)}
        holders = blob_owners(conn, set(through.values())) if through else {}
    allowed |= {d for d, manifest in through.items()
                if holders.get(manifest, set()) & readable and d in _manifest_digests(blobs, manifest)}
    return allowed


def download_check(db: Database, blobs: BlobStore, principal: Principal, digest: str, via: str | None) -> None:
    """PermissionDenied unless ``principal`` may download blob ``digest`` (see the module docstring)."""
    readable = principal.projects_where("read")
    if readable is None or not principal.bindings:
        principal.require("read", "download artifacts")
        return
    if digest in downloadable(db, blobs, readable, [digest], {digest: check_digest(via)} if via else {}):
        return
    with db.read() as conn:
        projects = blob_projects(conn, digest)
        if via is not None and via != digest and digest in _manifest_digests(blobs, via):
            projects |= blob_projects(conn, via)
    if projects:
        principal.require_in(("read",), frozenset(projects), f"download blob {digest}")
    raise PermissionDenied(principal._refusal(
        ("read",), f"download blob {digest} (no object of a project it may read refers to it)", None) + " globally")


def missing_for(db: Database, blobs: BlobStore, principal: Principal, digests: list[str],
                via: dict[str, str]) -> list[str]:
    """The digests of ``digests`` to report missing to ``principal``: those the store lacks, and
    for a caller without a global ``read`` also those it could not download."""
    absent = blobs.missing(digests)
    if principal.can("read"):
        return absent
    # Every digest asked is checked, stored or not, so the work done does not depend on what is stored.
    unique = list(dict.fromkeys(digests))
    shown = downloadable(db, blobs, principal.projects_where("read") or frozenset(), unique, via) - set(absent)
    return [d for d in unique if d not in shown]


@functools.lru_cache(maxsize=256)
def _manifest_digests_cached(blobs: BlobStore, digest: str) -> frozenset[str]:
    return frozenset(e.digest for e in check_stored_manifest(blobs, digest).entries)


def _manifest_digests(blobs: BlobStore, digest: str) -> frozenset[str]:
    """The digests a folder manifest lists (a blob is immutable, so the answer is cached)."""
    try:
        return _manifest_digests_cached(blobs, digest)
    except (InvalidInput, NotFound):
        return frozenset()


def add_blob_routes(app: FastAPI, base: LocalTransport, auth: Authenticator, settings: Settings) -> None:
    blobs = base.blobs
    folder = upload_folder(base, settings)
    remove_stale_temporaries(folder, STALE_UPLOAD_SECONDS)

    missing_schema = MissingRequest.model_json_schema()

    @app.post("/api/v1/blobs/missing", tags=["blobs"], response_model=None, openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": missing_schema}}}})
    @returns(MissingBlobs)
    async def missing(request: Request) -> MissingBlobs:
        principal = await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
        try:
            body = await request.body()
            check_value_count("blobs.missing", body)
            parsed = MissingRequest.model_validate_json(body)
        except ValidationError as err:
            raise InvalidInput(f"blobs.missing: {describe(err)}") from None
        digests = [check_digest(d) for d in parsed.digests]
        via = {check_digest(d): check_digest(m) for d, m in parsed.via.items()}
        return {"missing": await run_in_threadpool(missing_for, base.ctx.db, blobs, principal, digests, via)}

    @app.put("/api/v1/blobs/{digest}", tags=["blobs"], response_model=None)
    @returns(StoredBlob)
    async def put(digest: str, request: Request) -> StoredBlob:
        principal = await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
        # A writer in any project may upload: bytes alone open nothing (a download needs an object
        # of a readable project referring to them), and the record that will refer to them is
        # checked in its own project by its endpoint.
        if not any(principal.can_somewhere(p) for p in _WRITERS):
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
    async def get(digest: str, request: Request, via: str | None = None) -> Response:
        principal = await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
        check_digest(digest)
        await run_in_threadpool(download_check, base.ctx.db, blobs, principal, digest, via)
        if not blobs.exists(digest):
            raise NotFound(f"blob {digest} is not in the artifact store")
        loose = blobs.file_path(digest)
        if loose is not None:
            return FileResponse(loose, media_type="application/octet-stream")
        return Response(await run_in_threadpool(blobs.read_bytes, digest), media_type="application/octet-stream")
