"""Garbage collection: delete blobs that nothing references.

The caller passes the root digests the metadata store references; manifests among them keep
their files alive too. Blobs younger than a grace period are kept, because a writer stores its
blobs before it commits the metadata row that references them. A pack (see
:mod:`slipway.blobs.packs`) is judged as a whole by its age: an old pack holding unreferenced
blobs is replaced by one holding only its live blobs (published before the old one is removed),
or removed when none is live.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterable

from slipway.blobs.local import LocalBlobStore
from slipway.blobs.manifest import Manifest, is_manifest
from slipway.blobs.store import BlobStore
from slipway.core.clock import now_ms
from slipway.core.errors import IntegrityError, SlipwayError


@dataclasses.dataclass(frozen=True)
class GcReport:
    live: int
    deleted: int
    bytes_freed: int
    kept_young: int
    dry_run: bool


def live_set(blobs: BlobStore, roots: Iterable[str]) -> set[str]:
    """Every digest reachable from ``roots`` (a manifest reaches its files).

    Raises:
        IntegrityError: a referenced blob small enough to be a manifest no longer matches its
            digest. Collection must stop then: if it was a manifest, the files it names would
            look unreferenced and be deleted, turning a repairable blob into lost data.
    """
    live: set[str] = set()
    for digest in roots:
        if digest in live or not blobs.exists(digest):
            continue
        live.add(digest)
        if blobs.size(digest) > 256 * 1024 * 1024:
            continue
        try:
            data = blobs.read_bytes(digest, verify=True)
        except IntegrityError as err:
            raise IntegrityError(f"referenced blob {digest} is corrupt; garbage collection stopped before deleting "
                                 "anything (restore it, e.g. with 'slipway data pull' from a remote, or run "
                                 "'slipway data verify' to see what is affected)") from err
        except SlipwayError:
            continue
        if is_manifest(data):
            # Unchecked: a manifest with an unsafe path is still a root; its files must not be deleted.
            live.update(e.digest for e in Manifest.from_bytes(data, check=False).entries)
    return live


def collect_garbage(
    blobs: BlobStore, roots: Iterable[str], grace_seconds: float = 3600, dry_run: bool = False
) -> GcReport:
    live = live_set(blobs, roots)
    cutoff = now_ms() - int(grace_seconds * 1000)
    deleted = freed = young = 0
    for digest in list(blobs.loose_digests()):
        if digest in live:
            continue
        if blobs.modified_ms(digest) > cutoff:
            young += 1
            continue
        freed += blobs.size(digest)
        deleted += 1
        if not dry_run:
            blobs.delete(digest)
    if isinstance(blobs, LocalBlobStore):
        for pack in blobs.packs.packs():
            dead = [digest for digest in pack.entries if digest not in live]
            if not dead:
                continue
            if pack.modified_ms > cutoff:
                young += len(dead)
                continue
            deleted += len(dead)
            freed += sum(pack.entries[digest][1] for digest in dead)
            if not dry_run:
                blobs.packs.keep_only(pack, live)
    if isinstance(blobs, LocalBlobStore) and not dry_run:
        _remove_stale_temporaries(os.path.join(blobs.root, "tmp"), cutoff)
    return GcReport(len(live), deleted, freed, young, dry_run)


def remove_stale_temporaries(tmp_dir: str, grace_seconds: float) -> None:
    """Delete the files in ``tmp_dir`` (half-written blobs, uploads, ``data add`` copies) that
    nobody has written to for ``grace_seconds``: what a killed writer left behind."""
    _remove_stale_temporaries(tmp_dir, now_ms() - int(grace_seconds * 1000))


def _remove_stale_temporaries(tmp_dir: str, cutoff_ms: int) -> None:
    """Delete half-written temporaries a killed writer left behind (never a live writer's)."""
    if not os.path.isdir(tmp_dir):
        return
    for name in os.listdir(tmp_dir):
        path = os.path.join(tmp_dir, name)
        with contextlib.suppress(FileNotFoundError):
            if os.path.getmtime(path) * 1000 < cutoff_ms:
                os.unlink(path)
