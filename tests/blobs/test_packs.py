"""Small files of a folder land in one pack: stored, read, verified, collected, killed and pulled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from slipway.blobs.gc import collect_garbage
from slipway.blobs.store import BlobStore
from slipway.core.errors import IntegrityError
from slipway.core.hashing import hash_bytes
from slipway.workspace import Workspace, open_workspace
from tests.support import MOVIELENS, corrupt_packed_blob, make_settings

ROOT = Path(__file__).resolve().parents[2]


def _shards(folder: Path, count: int, rows: int = 40) -> Path:
    """``count`` small CSV files, each ``rows`` consecutive real MovieLens ratings (~1 KB)."""
    lines = (MOVIELENS / "ratings.csv").read_text().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    for i in range(count):
        shard = folder / f"user-block-{i // 100:02d}"
        shard.mkdir(parents=True, exist_ok=True)
        (shard / f"part-{i:05d}.csv").write_text(header + "".join(body[i * rows:(i + 1) * rows]))
    return folder


def _loose_files(artifacts: Path) -> int:
    return sum(len(files) for folder, _, files in os.walk(artifacts) if len(os.path.basename(folder)) == 2)


def _packs(artifacts: Path, suffix: str) -> list[Path]:
    folder = artifacts / "packs"
    return sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else []


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_a_folder_of_small_files_is_stored_as_one_pack(sqlite_ws: Workspace, tmp_path: Path) -> None:
    folder = _shards(tmp_path / "ratings", 1500)
    artifacts = Path(sqlite_ws.blobs.root)
    version = sqlite_ws.data.add("ratings-shards", folder)
    assert version.file_count == 1500
    assert len(_packs(artifacts, ".pack")) == len(_packs(artifacts, ".idx")) == 1
    assert _loose_files(artifacts) <= 2  # the manifest (and at most a profile), not 1,500 files
    assert sqlite_ws.data.verify(version).ok and sqlite_ws.data.status("ratings-shards", folder).clean

    out = sqlite_ws.data.get(version.ref, tmp_path / "restored")
    originals = sorted(p.relative_to(folder) for p in folder.rglob("*.csv"))
    assert sorted(p.relative_to(out) for p in out.rglob("*.csv")) == originals
    assert all((out / p).read_bytes() == (folder / p).read_bytes() for p in originals)
    assert sqlite_ws.data.load(version.ref, path="user-block-03/part-00321.csv").num_rows == 40

    again = sqlite_ws.data.add("ratings-shards", folder)
    assert not again.created and len(_packs(artifacts, ".pack")) == 1
    (folder / "user-block-00" / "part-00007.csv").write_text("userId,movieId,rating,timestamp\n1,1,5.0,1\n")
    second = sqlite_ws.data.add("ratings-shards", folder)
    assert second.ref == "ratings-shards@2" and len(_packs(artifacts, ".pack")) == 2  # one new blob, one new pack
    assert [(c.path, c.change) for c in sqlite_ws.data.diff(version.ref, second.ref).files] == [
        ("user-block-00/part-00007.csv", "changed")]


def test_a_changed_byte_in_a_pack_is_named_and_never_served(sqlite_ws: Workspace, tmp_path: Path) -> None:
    folder = _shards(tmp_path / "ratings", 300)
    version = sqlite_ws.data.add("ratings-shards", folder)
    entry = next(f for f in sqlite_ws.data.files(version) if f["path"] == "user-block-02/part-00250.csv")
    corrupt_packed_blob(sqlite_ws.blobs, entry["digest"], at=20, byte=b"9")

    report = sqlite_ws.data.verify(version)
    assert not report.ok and report.corrupt == [f"user-block-02/part-00250.csv ({entry['digest']})"]
    with pytest.raises(IntegrityError, match=r"user-block-02/part-00250\.csv"):
        sqlite_ws.data.get(version.ref, tmp_path / "out")
    assert not (tmp_path / "out" / "user-block-02" / "part-00250.csv").exists()
    with pytest.raises(IntegrityError, match="part-00250"):
        sqlite_ws.data.load(version.ref, path="user-block-02/part-00250.csv")


def test_gc_keeps_only_the_live_blobs_of_an_old_pack(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "blobs"))
    blobs = {name: f"{name} ratings 4.5 3.0\n".encode() * 20 for name in ("live", "dead1", "dead2")}
    digests = {name: hash_bytes(data) for name, data in blobs.items()}
    with store.packs.writer() as writer:
        for name, data in blobs.items():
            writer.add(digests[name], data)
    stale_reader = BlobStore(store.uri)
    assert stale_reader.read_bytes(digests["dead1"]) == blobs["dead1"]  # it has loaded the old index

    assert collect_garbage(store, [digests["live"]], grace_seconds=3600).kept_young == 2  # young: kept
    assert store.exists(digests["dead1"])
    (old_pack,) = _packs(Path(store.root), ".pack")
    _age(old_pack, 7200)
    dry = collect_garbage(store, [digests["live"]], grace_seconds=3600, dry_run=True)
    assert (dry.deleted, dry.bytes_freed) == (2, len(blobs["dead1"]) + len(blobs["dead2"])) and old_pack.exists()

    report = collect_garbage(store, [digests["live"]], grace_seconds=3600)
    assert report.deleted == 2 and not old_pack.exists()
    assert store.read_bytes(digests["live"]) == blobs["live"]
    assert stale_reader.read_bytes(digests["live"]) == blobs["live"]  # finds the replacement pack
    assert not store.exists(digests["dead1"]) and store.missing(digests.values()) == sorted(
        [digests["dead1"], digests["dead2"]])

    (new_pack,) = _packs(Path(store.root), ".pack")
    _age(new_pack, 7200)
    assert collect_garbage(store, [], grace_seconds=3600).deleted == 1
    assert _packs(Path(store.root), ".pack") == _packs(Path(store.root), ".idx") == []


def _worker(home: Path, name: str, path: Path, start: Path | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.data.add_worker", str(home), "", name, str(path)]
    return subprocess.Popen([*args, *([str(start)] if start else [])], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def test_sigkill_while_packing_leaves_no_half_version(tmp_path: Path) -> None:
    folder = _shards(tmp_path / "ratings", 2500, rows=12)
    home = tmp_path / "home"
    worker = _worker(home, "shards", folder)
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    tmp = home / "artifacts" / "tmp"
    deadline = time.time() + 60
    while time.time() < deadline and worker.poll() is None:
        if any(p.name.startswith("pack-") and p.stat().st_size > 4096 for p in tmp.iterdir()):
            break
    worker.send_signal(signal.SIGKILL)
    worker.wait()

    ws = open_workspace(make_settings(home))
    assert ws.data.list_datasets() == [] and ws.audit.verify().ok
    collect_garbage(ws.blobs, [], grace_seconds=0)  # what the killed writer left is unreferenced
    assert list(tmp.iterdir()) == [] and _packs(home / "artifacts", ".pack") == []
    version = ws.data.add("shards", folder)  # the add simply runs again
    assert version.file_count == 2500 and ws.data.verify(version).ok


def test_two_processes_packing_at_once_both_land(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folders = [_shards(tmp_path / f"in{i}", 800, rows=10 + i) for i in range(2)]
    start = tmp_path / "go"
    workers = [_worker(home, f"shards-{i}", folder, start) for i, folder in enumerate(folders)]
    for w in workers:
        assert w.stdout is not None and w.stdout.readline().strip() == "ready"
    start.touch()
    results = [orjson.loads(w.communicate(timeout=120)[0]) for w in workers]
    assert [r["ref"] for r in results] == ["shards-0@1", "shards-1@1"]

    ws = open_workspace(make_settings(home))
    assert len(_packs(home / "artifacts", ".idx")) == 2
    for i, folder in enumerate(folders):
        assert ws.data.verify(f"shards-{i}@1").ok
        out = ws.data.get(f"shards-{i}@1", tmp_path / f"out{i}")
        assert (out / "user-block-07" / "part-00799.csv").read_bytes() == (
            folder / "user-block-07" / "part-00799.csv").read_bytes()


def test_push_then_pull_into_an_empty_store_packs_again(sqlite_ws: Workspace, tmp_path: Path) -> None:
    folder = _shards(tmp_path / "ratings", 400)
    version = sqlite_ws.data.add("ratings-shards", folder)
    remote = f"memory://slipway-packs-{os.getpid()}-{tmp_path.name}"  # an object store: plain blobs
    assert sqlite_ws.data.push(version.ref, remote) == 402  # 400 files, the profile, the manifest
    assert len(list(BlobStore(remote).loose_digests())) == 402

    empty = tmp_path / "empty-store"
    other = open_workspace(make_settings(sqlite_ws.settings.home, artifacts_uri=str(empty)))
    assert other.data.pull(version.ref, remote) == 402
    assert other.data.pull(version.ref, remote) == 0
    assert len(_packs(empty, ".pack")) == 1 and _loose_files(empty) <= 2
    assert other.data.verify(version.ref).ok
    out = other.data.get(version.ref, tmp_path / "out")
    assert (out / "user-block-03" / "part-00399.csv").read_bytes() == (
        folder / "user-block-03" / "part-00399.csv").read_bytes()
