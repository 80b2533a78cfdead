"""Integrity checks of a version's blobs: the manifest, every file it names, and the profile."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from slipway.blobs.manifest import Manifest
from slipway.blobs.store import BlobStore
from slipway.core.errors import NotFound
from slipway.data.records import DatasetVersion, VerifyReport


def verify_version_blobs(blobs: BlobStore, version: DatasetVersion, workers: int = 4) -> VerifyReport:
    """Re-hash every blob of ``version``; list the files that are corrupt or missing by path."""
    corrupt: list[str] = []
    missing: list[str] = []
    try:
        if not blobs.verify(version.digest):
            return VerifyReport(version.ref, 1, [f"(manifest) ({version.digest})"], [])
    except NotFound:
        return VerifyReport(version.ref, 1, [], [f"(manifest) ({version.digest})"])
    manifest = Manifest.from_bytes(blobs.read_bytes(version.digest))
    labelled = [(e.path, e.digest) for e in manifest.entries]
    if version.profile_digest:
        labelled.append(("(profile)", version.profile_digest))

    def check(item: tuple[str, str]) -> tuple[str, str, str]:
        path, digest = item
        try:
            return path, digest, "ok" if blobs.verify(digest) else "corrupt"
        except NotFound:
            return path, digest, "missing"

    with ThreadPoolExecutor(max(1, workers)) as pool:
        for path, digest, state in pool.map(check, labelled):
            if state == "corrupt":
                corrupt.append(f"{path} ({digest})")
            elif state == "missing":
                missing.append(f"{path} ({digest})")
    return VerifyReport(version.ref, len(labelled) + 1, corrupt, missing)
