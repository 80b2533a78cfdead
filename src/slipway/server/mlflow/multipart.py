"""MLflow's proxied multipart upload (``/api/2.0/mlflow-artifacts/mpu/...``) over Slipway's blob store.

An MLflow client with ``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true`` sends a file of at least
``MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`` bytes in parts:

1. ``POST mpu/create/<experiment>/<run>/artifacts[/<folder>]`` with ``{"path": <local file>,
   "num_parts": N}``. Checked as a single upload to that artifact is (``tracking.write`` in the
   run's project, the path through :func:`~slipway.server.mlflow.artifacts.split_path` and
   :func:`~slipway.core.paths.check_relative_path`). The answer is an ``upload_id`` and one URL
   per part, pointing back at this server: ``mpu/parts/<upload_id>/<n>?sig=<signature>``.
2. ``PUT`` of each part to its URL. MLflow sends no bearer token there (it treats the URLs as S3
   presigned URLs), so the signature is the credential: HMAC-SHA256 of the upload id and the part
   number under a secret kept in ``SLIPWAY_HOME`` (``mlflow-upload-secret``), useless for any
   other upload or part, and for nothing once the upload expires, completes or is aborted. A part
   is streamed to the staging folder while it is hashed; the answer's ``ETag`` is its BLAKE3 digest.
3. ``POST mpu/complete/...`` with every part's ETag: the parts are concatenated in order into one
   temporary file of the blob store (streamed, each part re-hashed against its ETag), adopted as a
   blob, and recorded by the same ``record_artifact`` call a single ``PUT`` makes (one transaction
   with its ``run.log_artifact`` audit event). Nothing is recorded before that transaction, so a
   crash or kill at any earlier point leaves no artifact record, only staged files.
4. ``POST mpu/abort/...`` removes the staged parts.

Staged uploads live on disk (``SLIPWAY_HOME/mlflow-uploads/<upload_id>/``: ``meta.json`` and one
``<n>.<etag>`` file per part), not in the database: they are scratch data with no history to keep.
An upload expires :data:`UPLOAD_TTL_MS` after it was created; expired uploads (and what a killed
server left half-done) are removed :data:`SWEEP_GRACE_MS` later, swept at server start and at every
``mpu/create``. The server instances behind one URL must therefore share ``SLIPWAY_HOME``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import blake3
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from slipway.core.auth import authorised
from slipway.core.clock import now_ms
from slipway.core.errors import NotFound
from slipway.core.hashing import CHUNK
from slipway.core.paths import check_relative_path
from slipway.core.secrets_file import home_secret
from slipway.identity.authenticator import Authenticator
from slipway.local import LocalTransport
from slipway.server.mlflow.artifacts import split_path
from slipway.server.mlflow.protocol import MlflowCall, MlflowError, error_body, request_fields

PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
PART_ROUTE = "/mpu/parts"  # after a prefix; body_limits.py streams these PUTs as uploads
MAX_PARTS = 10_000  # S3's limit, which MLflow's client also assumes
MAX_PART_BYTES = 5 * 1024**3  # S3's largest part; max_upload_bytes bounds it further
UPLOAD_TTL_MS = 24 * 3600 * 1000
SWEEP_GRACE_MS = 3600 * 1000  # a completion started before expiry has this long to finish
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_ETAG = re.compile(r'"?([0-9a-f]{64})"?')
_PART_FILE = re.compile(r"(\d+)\.([0-9a-f]{64})")


@dataclasses.dataclass(frozen=True)
class StagedUpload:
    """One multipart upload in progress: where it goes, who started it, until when."""

    upload_id: str
    run_id: str
    path: str  # the artifact's path inside the run
    owner: str  # the principal that created it; only it may complete or abort it
    num_parts: int
    created_ms: int
    expires_ms: int


class UploadStaging:
    """The staging folder of multipart uploads: create, sign, store parts, claim, discard, sweep.

    Args:
        root: the folder (created if needed).
        secret: the key part URLs are signed with.
        max_upload_bytes: the largest artifact (the sum of an upload's parts).
        clock: milliseconds since the epoch (injected by tests).
    """

    def __init__(self, root: Path, secret: bytes, max_upload_bytes: int,
                 clock: Callable[[], int] = now_ms) -> None:
        self.root, self.secret, self.max_upload_bytes, self.clock = root, secret, max_upload_bytes, clock
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    # -- uploads -----------------------------------------------------------------------------
    def create(self, owner: str, run_id: str, path: str, num_parts: int) -> StagedUpload:
        """Stage a new upload. Its folder appears whole (built under a dot name, then renamed), so
        a crash never leaves an upload without its ``meta.json``."""
        now = self.clock()
        upload = StagedUpload(secrets.token_hex(16), run_id, path, owner, num_parts, now, now + UPLOAD_TTL_MS)
        building = Path(tempfile.mkdtemp(prefix=".new-", dir=self.root))
        (building / "meta.json").write_text(json.dumps(dataclasses.asdict(upload)))
        os.rename(building, self.root / upload.upload_id)
        return upload

    def signature(self, upload_id: str, part_number: int) -> str:
        message = f"mlflow-mpu:{upload_id}:{part_number}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def load(self, upload_id: str) -> StagedUpload:
        """The live upload ``upload_id``; NotFound when unknown, completed, aborted or expired."""
        if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
            raise NotFound(f"no multipart upload {str(upload_id)[:80]!r}")
        try:
            meta = json.loads((self.root / upload_id / "meta.json").read_text())
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"no multipart upload {upload_id} (unknown, completed or aborted)") from None
        upload = StagedUpload(**meta)
        if upload.expires_ms <= self.clock():
            raise NotFound(f"multipart upload {upload_id} expired; start the upload again")
        return upload

    def check_part(self, upload_id: str, part: str, signature: str) -> tuple[StagedUpload, int]:
        """The upload and part number a part URL names, after its signature is checked (before
        anything about the upload is read, so an unsigned request learns nothing)."""
        number = int(part) if part.isascii() and part.isdigit() and len(part) <= 5 else 0
        if not (_UPLOAD_ID.fullmatch(upload_id) and 1 <= number <= MAX_PARTS
                and hmac.compare_digest(self.signature(upload_id, number).encode(),
                                        signature.encode("utf-8", "surrogateescape"))):
            raise MlflowError("this part URL is not valid: its signature does not match (part URLs come "
                              "from mpu/create and are good for their upload only)", "PERMISSION_DENIED", 403)
        upload = self.load(upload_id)
        if number > upload.num_parts:
            raise MlflowError(f"upload {upload_id} has {upload.num_parts} parts, not {number}")
        return upload, number

    def part_limit(self, upload: StagedUpload) -> int:
        """How many bytes the next part may hold: the per-part cap, less what the upload's other
        staged parts already take of ``max_upload_bytes``."""
        return min(MAX_PART_BYTES, self.max_upload_bytes - sum(size for _, _, size in self.parts(upload.upload_id)))

    def part_temporary(self, upload: StagedUpload, number: int) -> tuple[int, str]:
        """A new file inside the upload's folder for part ``number`` while it arrives (so a claim
        of the folder takes it along and the part cannot be put in place afterwards)."""
        try:
            return tempfile.mkstemp(prefix=f".{number}.", dir=self.root / upload.upload_id)
        except FileNotFoundError:
            raise NotFound(f"multipart upload {upload.upload_id} was completed or aborted meanwhile") from None

    def keep_part(self, upload: StagedUpload, number: int, temporary: str, etag: str) -> None:
        """Put a received part in place as ``<n>.<etag>`` and drop earlier copies of part ``n``.
        Raises NotFound when the upload was completed or aborted meanwhile."""
        folder = self.root / upload.upload_id
        try:
            os.rename(temporary, folder / f"{number}.{etag}")
        except FileNotFoundError:
            raise NotFound(f"multipart upload {upload.upload_id} was completed or aborted meanwhile") from None
        for other, other_etag, _ in self.parts(upload.upload_id):
            if other == number and other_etag != etag:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(folder / f"{number}.{other_etag}")

    def parts(self, upload_id: str, folder: Path | None = None) -> list[tuple[int, str, int]]:
        """``(part number, etag, size)`` of every staged part."""
        found = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(folder or self.root / upload_id):
                match = _PART_FILE.fullmatch(entry.name)
                if match:
                    with contextlib.suppress(FileNotFoundError):
                        found.append((int(match[1]), match[2], entry.stat().st_size))
        return sorted(found)

    def claim(self, upload_id: str) -> Path:
        """Take the upload's folder for completion or removal (a rename: of two callers, one
        wins, and parts still arriving can no longer be put in place). NotFound if gone."""
        claimed = self.root / f".claimed-{upload_id}-{secrets.token_hex(4)}"
        try:
            os.rename(self.root / upload_id, claimed)
        except FileNotFoundError:
            raise NotFound(f"no multipart upload {upload_id} (unknown, completed, aborted or being completed)") from None
        return claimed

    def release(self, claimed: Path, upload_id: str) -> None:
        """Give a claimed folder back (a completion failed: the client may retry or abort)."""
        with contextlib.suppress(OSError):
            os.rename(claimed, self.root / upload_id)

    def sweep(self) -> int:
        """Remove uploads that expired more than :data:`SWEEP_GRACE_MS` ago, and folders a killed
        server left (half-created, claimed) untouched for as long as an upload lives. Returns
        how many were removed."""
        now, removed = self.clock(), 0
        for entry in os.scandir(self.root):
            if self._stale(Path(entry.path), now):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                removed += 1
        return removed

    @staticmethod
    def _stale(path: Path, now: int) -> bool:
        """Expired past the grace (by its ``meta.json``), or without one and untouched for an
        upload's whole life plus the grace."""
        try:
            return int(json.loads((path / "meta.json").read_text())["expires_ms"]) + SWEEP_GRACE_MS <= now
        except (OSError, ValueError, KeyError, TypeError):
            try:
                return path.lstat().st_mtime * 1000 + UPLOAD_TTL_MS + SWEEP_GRACE_MS <= now
            except FileNotFoundError:
                return False


def assemble(files: list[tuple[int, str, Path]], folder: str) -> tuple[str, int, str]:
    """Concatenate the parts in order into a temporary file in ``folder``, hashing as it goes.

    Returns ``(digest, size, temporary file)``. Each part's bytes must still hash to its ETag.
    """
    os.makedirs(folder, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix="mlflow-mpu-", dir=folder)
    whole, size = blake3.blake3(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            for number, etag, path in files:
                part = blake3.blake3()
                with open(path, "rb") as source:
                    while chunk := source.read(CHUNK):
                        part.update(chunk)
                        whole.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
                if part.hexdigest() != etag:
                    raise MlflowError(f"staged part {number} no longer hashes to its ETag {etag}; upload it again")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return whole.hexdigest(), size, temporary


# -- the three calls ---------------------------------------------------------------------------
def target(call: MlflowCall, artifact_path: str) -> tuple[str, str]:
    """``(run_id, path in the run)`` of the file an mpu call names, once the caller may write it:
    the same checks, in the same order, as a single ``PUT`` of the artifact."""
    if not call.principal.can_somewhere("tracking.write"):  # refused before the path is read
        call.principal.require("tracking.write", "upload artifacts")
    name = re.split(r"[\\/]", call.text("path"))[-1]  # the local file's name (any OS's separators)
    run_id, inner = split_path(f"{artifact_path}/{name}")
    check_relative_path(inner, "artifact path")
    authorised(call.tracking, "record_artifact", ("tracking.write",), {"run_id": run_id})
    return run_id, inner


def owned(call: MlflowCall, staging: UploadStaging, artifact_path: str) -> StagedUpload:
    """The upload a complete or abort names, refused unless its caller created it for this path."""
    run_id, inner = target(call, artifact_path)
    upload = staging.load(call.text("upload_id"))
    if upload.owner != call.principal.name:
        raise MlflowError(f"multipart upload {upload.upload_id} was started by another caller", "PERMISSION_DENIED", 403)
    if (upload.run_id, upload.path) != (run_id, inner):
        raise MlflowError(f"multipart upload {upload.upload_id} is for {upload.path!r} of run {upload.run_id}, "
                          f"not {inner!r} of run {run_id}")
    return upload


def create(call: MlflowCall, staging: UploadStaging, artifact_path: str, part_url: str) -> dict[str, Any]:
    run_id, inner = target(call, artifact_path)
    call.tracking.get_run(run_id)  # NotFound now rather than at completion
    num_parts = call.integer("num_parts", 1)
    if not 1 <= num_parts <= MAX_PARTS:
        raise MlflowError(f"num_parts must be between 1 and {MAX_PARTS}, got {num_parts}")
    staging.sweep()
    upload = staging.create(call.principal.name, run_id, inner, num_parts)
    return {"upload_id": upload.upload_id, "credentials": [
        {"url": f"{part_url}/{upload.upload_id}/{n}?sig={staging.signature(upload.upload_id, n)}",
         "part_number": n, "headers": {}} for n in range(1, num_parts + 1)]}


def listed_parts(call: MlflowCall, upload: StagedUpload) -> list[tuple[int, str]]:
    """The ``(part number, etag)`` list of a complete call: every part 1..N once, in order."""
    listed = []
    for item in call.items("parts"):
        number = item.get("part_number") if isinstance(item, dict) else None
        match = _ETAG.fullmatch(str(item.get("etag") or "").strip()) if isinstance(item, dict) else None
        if isinstance(number, bool) or not isinstance(number, int) or match is None:
            raise MlflowError(f"each part must have a part_number and the ETag its upload answered, got {item!r}"[:300])
        listed.append((number, match[1]))
    numbers = [number for number, _ in listed]
    if numbers != list(range(1, upload.num_parts + 1)):
        raise MlflowError(f"complete must list parts 1 to {upload.num_parts} once each, in order; got {numbers}"[:300])
    return listed


def complete(call: MlflowCall, staging: UploadStaging, artifact_path: str) -> dict[str, Any]:
    upload = owned(call, staging, artifact_path)
    listed = listed_parts(call, upload)
    claimed = staging.claim(upload.upload_id)
    try:
        staged = {(number, etag): size for number, etag, size in staging.parts(upload.upload_id, claimed)}
        for number, etag in listed:
            if (number, etag) not in staged:
                raise MlflowError(f"part {number} with ETag {etag} was not uploaded to {upload.upload_id}")
        total = sum(staged[key] for key in listed)
        if total > staging.max_upload_bytes:
            raise MlflowError(f"the parts add up to {total} bytes; the limit is {staging.max_upload_bytes}",
                              "INVALID_PARAMETER_VALUE", 413)
        blobs = call.base.blobs
        digest, size, temporary = assemble([(n, e, claimed / f"{n}.{e}") for n, e in listed],
                                           blobs.temporary_folder() or str(staging.root))
        blobs.adopt(temporary, digest)  # removes the temporary file in every case
        call.tracking.record_artifact(upload.run_id, upload.path, digest, "file", size)
    except BaseException:
        staging.release(claimed, upload.upload_id)
        raise
    shutil.rmtree(claimed, ignore_errors=True)
    return {}


def abort(call: MlflowCall, staging: UploadStaging, artifact_path: str) -> dict[str, Any]:
    upload = owned(call, staging, artifact_path)
    shutil.rmtree(staging.claim(upload.upload_id), ignore_errors=True)
    return {}


# -- routes ------------------------------------------------------------------------------------
def _too_large(number: int, limit: int, staging: UploadStaging) -> MlflowError:
    return MlflowError(f"part {number} is over {limit} bytes, what this upload has left (parts up to "
                       f"{MAX_PART_BYTES} bytes, artifacts up to {staging.max_upload_bytes})", "INVALID_PARAMETER_VALUE", 413)


def open_staging(base: LocalTransport) -> UploadStaging:
    settings = base.settings
    secret = home_secret(Path(settings.home) / "mlflow-upload-secret", lambda: secrets.token_hex(32).encode())
    return UploadStaging(Path(settings.home) / "mlflow-uploads", secret, settings.max_upload_bytes)


def add_multipart_routes(app: FastAPI, base: LocalTransport, auth: Authenticator,
                         staging: UploadStaging | None = None) -> None:
    """Mount ``mpu/create``, ``mpu/complete``, ``mpu/abort`` and the part URLs under both
    prefixes, and sweep what earlier servers left in the staging folder."""
    staging = staging or open_staging(base)
    staging.sweep()

    def json_route(handler: Callable[..., dict[str, Any]], prefix: str) -> Callable[..., Any]:
        async def serve(request: Request, artifact_path: str) -> Response:
            try:
                principal = await run_in_threadpool(auth.principal_for, request.headers.get("authorization"))
                fields = await request_fields(request)
                call = MlflowCall(base, principal, fields)
                extra = (f"{str(request.base_url).rstrip('/')}{prefix}{PART_ROUTE}",) if handler is create else ()
                return JSONResponse(await run_in_threadpool(handler, call, staging, artifact_path, *extra))
            except Exception as error:
                return error_body(error)

        return serve

    async def put_part(request: Request, upload_id: str, part_number: str) -> Response:
        temporary = ""
        try:
            upload, number = await run_in_threadpool(staging.check_part, upload_id, part_number,
                                                     request.query_params.get("sig", ""))
            limit = await run_in_threadpool(staging.part_limit, upload)
            declared = request.headers.get("content-length", "")
            if declared.isascii() and declared.isdigit() and int(declared) > limit:
                raise _too_large(number, limit, staging)
            fd, temporary = staging.part_temporary(upload, number)
            hasher, size = blake3.blake3(), 0
            with os.fdopen(fd, "wb") as handle:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(number, limit, staging)
                    hasher.update(chunk)
                    handle.write(chunk)
            etag = hasher.hexdigest()
            await run_in_threadpool(staging.keep_part, upload, number, temporary, etag)
            return Response(status_code=200, headers={"ETag": f'"{etag}"'})
        except Exception as error:
            return error_body(error)
        finally:
            if temporary:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)

    for prefix in PREFIXES:
        for verb, handler in (("create", create), ("complete", complete), ("abort", abort)):
            app.add_api_route(f"{prefix}/mpu/{verb}/{{artifact_path:path}}", json_route(handler, prefix),
                              methods=["POST"], include_in_schema=False, tags=["mlflow"])
        app.add_api_route(f"{prefix}{PART_ROUTE}/{{upload_id}}/{{part_number}}", put_part, methods=["PUT"],
                          include_in_schema=False, tags=["mlflow"])
