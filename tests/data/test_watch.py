"""``data watch``: a resident watcher answers ``data status`` from inotify events, always correctly."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from slipway.core.errors import NotFound
from slipway.data import watch_client
from slipway.workspace import Workspace
from tests.support import MOVIELENS

ROOT = Path(__file__).resolve().parents[2]


def _shards(folder: Path, count: int) -> Path:
    lines = (MOVIELENS / "ratings.csv").read_text().splitlines(keepends=True)
    for i in range(count):
        shard = folder / f"block-{i // 50:02d}"
        shard.mkdir(parents=True, exist_ok=True)
        (shard / f"part-{i:04d}.csv").write_text(lines[0] + "".join(lines[1 + i * 20:1 + (i + 1) * 20]))
    return folder


@pytest.fixture
def watched(sqlite_ws: Workspace, tmp_path: Path) -> Iterator[tuple[Workspace, Path]]:
    folder = _shards(tmp_path / "ratings", 300)
    sqlite_ws.data.add("ratings", folder)
    stop = threading.Event()
    ready = threading.Event()
    thread = threading.Thread(target=sqlite_ws.data.watch, args=(folder,),
                              kwargs={"ready": lambda _: ready.set(), "stop": stop.is_set}, daemon=True)
    thread.start()
    assert ready.wait(60)
    yield sqlite_ws, folder
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert not os.path.exists(watch_client.socket_path(sqlite_ws.settings.home, folder))


def _ask(ws: Workspace, folder: Path) -> tuple[list[str], list[str], list[str]]:
    answer = watch_client.ask_watcher(ws.settings.home, folder, "ratings")
    assert answer is not None, "the watcher did not answer"
    return answer["added"], answer["removed"], answer["changed"]


def test_the_watcher_sees_every_kind_of_change_at_once(watched: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, folder = watched
    assert _ask(ws, folder) == ([], [], [])
    with open(folder / "block-00" / "part-0003.csv", "a") as handle:  # asked right after: no sleep
        handle.write("1,2,4.5,964982703\n")
    assert _ask(ws, folder) == ([], [], ["block-00/part-0003.csv"])

    (folder / "block-01" / "part-0060.csv").unlink()
    os.rename(folder / "block-02" / "part-0100.csv", folder / "block-02" / "renamed.csv")
    (folder / "new" / "deeper").mkdir(parents=True)
    (folder / "new" / "deeper" / "notes.txt").write_text("curated subset\n")
    os.rename(folder / "block-05", folder / "block-05-moved")  # a whole folder moves
    moved = sorted(f"block-05-moved/part-{i:04d}.csv" for i in range(250, 300))
    gone = sorted(f"block-05/part-{i:04d}.csv" for i in range(250, 300))
    added, removed, changed = _ask(ws, folder)
    assert added == sorted(["block-02/renamed.csv", "new/deeper/notes.txt", *moved])
    assert removed == sorted(["block-01/part-0060.csv", "block-02/part-0100.csv", *gone])
    assert changed == ["block-00/part-0003.csv"]

    (folder / "new" / "deeper" / "later.txt").write_text("written inside a folder the watcher just learnt of\n")
    assert "new/deeper/later.txt" in _ask(ws, folder)[0]
    # The service's status goes through the watcher and reports the same.
    report = ws.data.status("ratings", folder)
    assert report.added == _ask(ws, folder)[0] and report.changed == ["block-00/part-0003.csv"]


def test_a_file_changed_through_another_hard_link_is_seen(watched: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, folder = watched
    outside = tmp_path / "elsewhere.csv"
    shutil.copy(folder / "block-03" / "part-0150.csv", outside)
    os.unlink(folder / "block-03" / "part-0150.csv")
    os.link(outside, folder / "block-03" / "part-0150.csv")  # same bytes, a second name outside
    assert _ask(ws, folder) == ([], [], [])
    with open(outside, "a") as handle:  # no event in the watched folder: only the link count tells
        handle.write("9,9,1.0,1\n")
    assert _ask(ws, folder) == ([], [], ["block-03/part-0150.csv"])


def test_a_new_version_is_compared_without_restarting(watched: tuple[Workspace, Path]) -> None:
    ws, folder = watched
    (folder / "extra.txt").write_text("one more file\n")
    assert _ask(ws, folder) == (["extra.txt"], [], [])
    ws.data.add("ratings", folder)
    assert _ask(ws, folder) == ([], [], [])
    os.chmod(folder / "block-04" / "part-0200.csv", 0o600)  # same bytes, other permissions
    assert _ask(ws, folder) == ([], [], ["block-04/part-0200.csv"])
    assert watch_client.ask_watcher(ws.settings.home, folder, "no-such-dataset") is None  # the caller reports it


def _slipway(args: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLIPWAY_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "slipway.cli.main", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=120)
    done.stdout = " ".join(done.stdout.split()) if "--json" not in args else done.stdout  # Rich wraps lines
    return done


def test_cli_watch_detach_status_and_stop(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", _shards(tmp_path / "ratings", 120)
    assert _slipway(["data", "add", "ratings", str(folder)], home, tmp_path).returncode == 0
    started = _slipway(["data", "watch", str(folder), "--detach"], home, tmp_path)
    assert started.returncode == 0, started.stderr
    pid = watch_client.request(home, folder, {"ping": True})["pid"]  # type: ignore[index]
    try:
        (folder / "block-01" / "part-0070.csv").write_text("userId,movieId,rating,timestamp\n")
        status = _slipway(["data", "status", "ratings", str(folder), "--json"], home, tmp_path)
        assert orjson.loads(status.stdout)["changed"] == ["block-01/part-0070.csv"]
        assert "already watched" in _slipway(["data", "watch", str(folder), "--detach"], home, tmp_path).stdout

        os.kill(pid, signal.SIGKILL)  # a stale socket is left behind: status falls back, still right
        deadline = time.time() + 10
        while time.time() < deadline and watch_client.request(home, folder, {"ping": True}) is not None:
            time.sleep(0.05)
        status = _slipway(["data", "status", "ratings", str(folder), "--json"], home, tmp_path)
        assert orjson.loads(status.stdout)["changed"] == ["block-01/part-0070.csv"]

        assert _slipway(["data", "watch", str(folder), "--detach"], home, tmp_path).returncode == 0
        stopped = _slipway(["data", "watch", str(folder), "--stop"], home, tmp_path)
        assert stopped.returncode == 0 and "Stopped" in stopped.stdout
        missing = _slipway(["data", "watch", str(folder), "--stop"], home, tmp_path)
        assert missing.returncode == 2 and "no watcher" in missing.stderr + missing.stdout
        assert _slipway(["data", "watch", str(tmp_path / "nope")], home, tmp_path).returncode == 2
    finally:
        answer = watch_client.request(home, folder, {"stop": True})
        assert answer is None or answer["stopping"]


def test_a_hard_link_made_after_the_start_is_followed(watched: tuple[Workspace, Path], tmp_path: Path) -> None:
    ws, folder = watched
    outside = tmp_path / "outside.csv"
    os.link(folder / "block-01" / "part-0051.csv", outside)  # made while the watcher runs
    os.link(folder / "block-02" / "part-0101.csv", folder / "block-03" / "alias-0101.csv")
    assert _ask(ws, folder) == (["block-03/alias-0101.csv"], [], [])
    with open(outside, "a") as handle:
        handle.write("7,7,2.0,7\n")
    with open(folder / "block-03" / "alias-0101.csv", "a") as handle:  # one inode, two names inside
        handle.write("8,8,3.0,8\n")
    assert _ask(ws, folder) == (["block-03/alias-0101.csv"], [], ["block-01/part-0051.csv", "block-02/part-0101.csv"])


def test_a_renamed_parent_folder_starts_a_new_baseline(sqlite_ws: Workspace, tmp_path: Path) -> None:
    parent = tmp_path / "project"
    folder = _shards(parent / "ratings", 60)
    sqlite_ws.data.add("ratings", folder)
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=sqlite_ws.data.watch, args=(folder,),
                              kwargs={"ready": lambda _: ready.set(), "stop": stop.is_set}, daemon=True)
    thread.start()
    assert ready.wait(60)
    try:
        assert _ask(sqlite_ws, folder) == ([], [], [])
        os.rename(parent, tmp_path / "project-old")  # the watched inode moves away with its parent
        _shards(parent / "ratings", 30)  # a different folder now sits at the watched path
        (parent / "ratings" / "block-00" / "part-0001.csv").write_text("userId,movieId,rating,timestamp\n")
        added, removed, changed = _ask(sqlite_ws, folder)
        assert (added, changed) == ([], ["block-00/part-0001.csv"]) and len(removed) == 30
    finally:
        stop.set()
        thread.join(10)


def test_a_client_of_other_stores_is_not_answered(watched: tuple[Workspace, Path], tmp_path: Path) -> None:
    from slipway.workspace import open_workspace
    from tests.support import make_settings

    ws, folder = watched
    (folder / "extra.txt").write_text("one more file\n")
    other_store = watch_client.store_identity(f"sqlite:///{tmp_path / 'other.db'}", str(tmp_path / "art"), "")
    assert watch_client.ask_watcher(ws.settings.home, folder, "ratings", other_store) is None
    assert watch_client.ask_watcher(ws.settings.home, folder, "ratings", ws.data._store_identity()) is not None
    # A workspace on the same home but another (empty) artifact store computes its status itself,
    # from its own store, which lacks the version's manifest: the watcher's answer is not used.
    other = open_workspace(make_settings(ws.settings.home, artifacts_uri=str(tmp_path / "other-artifacts")))
    assert other.data._store_identity() != ws.data._store_identity()
    with pytest.raises(NotFound, match="other-artifacts"):
        other.data.status("ratings", folder)
