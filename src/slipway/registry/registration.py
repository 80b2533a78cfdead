"""Registering a version: what it reads from the run and the bundle before anything is written."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import Connection

from slipway.blobs.manifest import Manifest
from slipway.blobs.store import BlobStore
from slipway.core.errors import IntegrityError, InvalidInput, NotFound
from slipway.core.hashing import hash_bytes
from slipway.models.bundle import METADATA_FILE, BundleMetadata
from slipway.models.flavors import FLAVOR_PATHS
from slipway.tracking.facts import artifact_paths, run_artifact, run_exists


@dataclasses.dataclass(frozen=True)
class BundleFacts:
    """What a new version records about its run and bundle."""

    run_id: str
    artifact_path: str
    bundle_digest: str
    flavor: str
    signature: dict[str, Any]


def read_bundle_facts(conn: Connection, blobs: BlobStore, run_id: str, artifact_path: str) -> BundleFacts:
    """Check the run, its artifact and the bundle's ``slipway-model.json``.

    Raises:
        NotFound: no such run, or the run has no artifact at ``artifact_path``.
        InvalidInput: the artifact is not a model bundle, or names an unknown flavor.
        IntegrityError: the bundle's manifest or description does not match its digest.
    """
    if not isinstance(run_id, str) or not run_id:
        raise InvalidInput(f"run id must be a non-empty string, got {run_id!r}")
    if not run_exists(conn, run_id):
        raise NotFound(f"run {run_id!r} does not exist; register a model from a run that logged it")
    artifact = run_artifact(conn, run_id, artifact_path)
    if artifact is None:
        have = artifact_paths(conn, run_id)
        raise NotFound(f"run {run_id} has no artifact {artifact_path!r}; its artifacts are {have}")
    if artifact.kind != "dir":
        raise InvalidInput(f"artifact {artifact_path!r} of run {run_id} is a file, not a model bundle folder")
    meta = read_bundle_metadata(blobs, artifact.digest)
    if meta.flavor not in FLAVOR_PATHS:
        raise InvalidInput(f"bundle {artifact.digest} has unknown flavor {meta.flavor!r}; known flavors: "
                           f"{', '.join(FLAVOR_PATHS)}")
    return BundleFacts(run_id, artifact_path, artifact.digest, meta.flavor, meta.signature)


def read_bundle_metadata(blobs: BlobStore, bundle_digest: str) -> BundleMetadata:
    manifest_bytes = blobs.read_bytes(bundle_digest, verify=False)
    if hash_bytes(manifest_bytes) != bundle_digest:
        raise IntegrityError(f"model bundle {bundle_digest} is corrupt: its manifest does not match the digest")
    try:
        entries = Manifest.from_bytes(manifest_bytes).by_path()
    except InvalidInput as err:
        raise InvalidInput(f"artifact {bundle_digest} is not a model bundle folder: {err.message}") from err
    entry = entries.get(METADATA_FILE)
    if entry is None:
        raise InvalidInput(f"artifact {bundle_digest} is not a model bundle: it has no {METADATA_FILE}")
    data = blobs.read_bytes(entry.digest, verify=False)
    if hash_bytes(data) != entry.digest:
        raise IntegrityError(f"model bundle {bundle_digest} is corrupt: {METADATA_FILE} does not match its digest")
    return BundleMetadata.from_json(data)


def dataset_ref(item: dict[str, Any]) -> str:
    """The lineage id of a dataset version, as tracking writes it for run inputs."""
    if item.get("version") is not None:
        return f"{item['dataset']}@{item['version']}"
    return f"{item['dataset']}#{item['digest'][:12]}"
