"""Folders as one digest, and the stat cache that spares re-hashing unchanged files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from slipway.blobs.manifest import restore_folder, scan_folder, store_folder
from slipway.blobs.statcache import StatCache
from slipway.blobs.store import BlobStore
from slipway.core.hashing import hash_file
from tests.support import GERMAN, MOVIELENS


def _folder(root: Path) -> Path:
    shutil.copytree(MOVIELENS, root, ignore=shutil.ignore_patterns("ratings.csv", "tags.csv"))
    (root / "nested" / "deeper").mkdir(parents=True)
    shutil.copy(GERMAN, root / "nested" / "deeper" / "german.data")
    return root


def test_same_folder_same_digest(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "blobs"))
    a = _folder(tmp_path / "a")
    b = _folder(tmp_path / "b")
    digest_a, manifest = store_folder(store, a)
    digest_b, _ = store_folder(store, b)
    assert digest_a == digest_b
    assert [e.path for e in manifest.entries] == sorted(e.path for e in manifest.entries)
    assert "nested/deeper/german.data" in manifest.by_path()
    (b / "nested" / "deeper" / "german.data").write_text("changed")
    assert store_folder(store, b)[0] != digest_a
    out = tmp_path / "restored"
    restore_folder(store, digest_a, out, link=False)
    for entry in manifest.entries:
        assert hash_file(out / entry.path) == entry.digest


def test_stat_cache_skips_unchanged_files(tmp_path: Path) -> None:
    import sqlite3

    folder = _folder(tmp_path / "data")
    cache = StatCache(tmp_path / "stat.db")
    first = scan_folder(folder, cache)
    target = folder / "nested" / "deeper" / "german.data"
    # Plant a different digest in the cache row: only a scan that trusts the cache reports it,
    # which proves an unchanged file is not hashed again.
    planted = "0" * 64
    with sqlite3.connect(tmp_path / "stat.db") as db:
        db.execute("UPDATE stat_cache_v2 SET digest = ? WHERE path = ?", (planted, str(target)))
    assert scan_folder(folder, cache).by_path()["nested/deeper/german.data"].digest == planted
    # An edit that keeps size and mtime (as cp -p or rsync -t leave a file) still changes the
    # ctime, which only the kernel sets: the cache misses and the file is hashed again.
    before = os.stat(target)
    data = bytearray(target.read_bytes())
    data[0] ^= 1
    with open(target, "r+b") as handle:
        handle.write(bytes(data))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    uncached = scan_folder(folder, None)
    edited = uncached.by_path()["nested/deeper/german.data"].digest
    assert edited not in (planted, first.by_path()["nested/deeper/german.data"].digest)
    assert scan_folder(folder, cache) == uncached
