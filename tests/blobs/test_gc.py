"""Garbage collection removes old unreferenced blobs and keeps referenced ones and their files."""

from __future__ import annotations

import os
import time
from pathlib import Path

from slipway.blobs.gc import collect_garbage
from slipway.store.references import digest_columns, referenced_digests
from slipway.workspace import Workspace


def _age(path: str, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_gc_keeps_referenced_and_young_blobs(sqlite_ws: Workspace, tmp_path: Path) -> None:
    tracking = sqlite_ws.tracking
    blobs = sqlite_ws.blobs
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"a" * 1000)
    (folder / "b.bin").write_bytes(b"b" * 2000)
    with tracking.start_run("gc") as run:
        artifact = tracking.log_artifact(folder)
    orphan = blobs.put_bytes(b"nobody references me")
    young_orphan = blobs.put_bytes(b"just written, row not committed yet")
    for digest in blobs.iter_digests():
        if digest != young_orphan:
            _age(blobs.path_of(digest), 7200)
    stale_tmp = Path(blobs.root) / "tmp" / "deadbeef-partial"
    stale_tmp.write_bytes(b"half a blob from a killed writer")
    _age(str(stale_tmp), 7200)

    with sqlite_ws.backend("tracking").ctx.db.read() as conn:
        roots = referenced_digests(conn)
    assert artifact.digest in roots and orphan not in roots
    dry = collect_garbage(blobs, roots, grace_seconds=3600, dry_run=True)
    assert dry.deleted == 1 and blobs.exists(orphan)
    report = collect_garbage(blobs, roots, grace_seconds=3600)
    assert report.deleted == 1 and report.kept_young == 1
    assert not blobs.exists(orphan) and blobs.exists(young_orphan)
    assert not stale_tmp.exists()
    restored = tracking.download_artifact(run.id, "model", tmp_path / "back")
    assert (restored / "a.bin").read_bytes() == b"a" * 1000 and (restored / "b.bin").read_bytes() == b"b" * 2000


def test_putting_an_existing_blob_makes_it_young_again(sqlite_ws: Workspace) -> None:
    blobs = sqlite_ws.blobs
    digest = blobs.put_bytes(b"about to be referenced again")
    _age(blobs.path_of(digest), 7200)
    blobs.put_bytes(b"about to be referenced again")  # a writer re-storing it before committing its row
    assert collect_garbage(blobs, [], grace_seconds=3600).deleted == 0
    assert blobs.exists(digest)


def test_reference_scan_covers_every_digest_column() -> None:
    found = {f"{table.name}.{column.name}" for table, column in digest_columns()}
    assert {"run_artifacts.digest", "runs.packages_digest", "run_inputs.digest"} <= found
    assert all(name.endswith("digest") for name in found)


def test_gc_stops_when_a_referenced_manifest_is_corrupt(sqlite_ws: Workspace, tmp_path: Path) -> None:
    import pytest

    from slipway.core.errors import IntegrityError

    folder = tmp_path / "shards"
    folder.mkdir()
    for i in range(20):
        (folder / f"part-{i:02d}.csv").write_text(f"userId,rating\n{i},4.5\n")
    version = sqlite_ws.data.add("shards", folder)
    files = [f["digest"] for f in sqlite_ws.data.files(version)]
    blobs = sqlite_ws.blobs
    for pack in Path(blobs.packs.folder).glob("*.pack"):
        _age(str(pack), 7200)
    manifest = blobs.path_of(version.digest)
    _age(manifest, 7200)
    os.chmod(manifest, 0o644)
    with open(manifest, "r+b") as handle:
        handle.write(b"X")  # the first byte: it no longer parses as a manifest either
    with sqlite_ws.backend("tracking").ctx.db.read() as conn:
        roots = referenced_digests(conn)
    with pytest.raises(IntegrityError, match=version.digest):
        collect_garbage(blobs, roots, grace_seconds=3600)
    assert len(files) == 20 and all(blobs.exists(digest) for digest in files)  # nothing was deleted
