"""``slipway data status`` and ``slipway data add`` give the same output, exit codes, reports and
stored versions through their quick paths (the hand-parsed CLI entry, the raw-SQLite status
reader, a folder watcher's answer, the early copy) as through the normal Typer command."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from slipway.core import fastpaths
from slipway.data import early
from slipway.data.quick import quick_status
from slipway.workspace import connect
from tests.fastpaths.conftest import Switch
from tests.support import AI4I, MOVIELENS

Cli = Callable[..., tuple[int, str, str]]
pytestmark = pytest.mark.fast_path


def _ratings(folder: Path, files: int = 12) -> Path:
    lines = (MOVIELENS / "ratings.csv").read_text().splitlines(keepends=True)
    for i in range(files):
        part = folder / f"block-{i % 3}"
        part.mkdir(parents=True, exist_ok=True)
        (part / f"part-{i:03d}.csv").write_text(lines[0] + "".join(lines[1 + i * 50:1 + (i + 1) * 50]))
    return folder


def _both(cli: Cli, switch: Switch, *args: object, fast_taken: str | None = None) -> tuple[int, str, str]:
    """Run ``args`` with the fast paths on, then off; both answers must be identical."""
    switch(True)
    fast = cli(*args)
    if fast_taken is not None:
        assert fastpaths.taken().get(fast_taken), (args, fastpaths.taken())
    switch(False)
    normal = cli(*args)
    assert fastpaths.taken() == {}
    assert fast == normal, args
    return fast


def test_status_reports_alike_on_both_paths(cli: Cli, switch: Switch, tmp_path: Path) -> None:
    folder = _ratings(tmp_path / "ratings")
    assert cli("data", "add", "ratings", folder)[0] == 0
    single = tmp_path / "one.csv"
    single.write_text("".join(AI4I.read_text().splitlines(keepends=True)[:300]))
    assert cli("data", "add", "single", single)[0] == 0
    clean = _both(cli, switch, "data", "status", "ratings", folder, fast_taken="data.quick_status")
    assert clean[0] == 0 and "is up to date with ratings@1" in clean[1]
    _both(cli, switch, "data", "status", "ratings", folder, "--json", fast_taken="data.quick_status")
    _both(cli, switch, "data", "status", "single", single, "--json", fast_taken="data.quick_status")
    # Every kind of change at once: added, removed, changed bytes, changed mode only.
    (folder / "block-0" / "part-000.csv").write_text("userId,movieId,rating,timestamp\n1,2,3.0,4\n")
    (folder / "block-1" / "part-001.csv").unlink()
    (folder / "block-9").mkdir()
    (folder / "block-9" / "new.csv").write_text("a,b\n1,2\n")
    os.chmod(folder / "block-2" / "part-002.csv", 0o755)
    single.write_text("".join(AI4I.read_text().splitlines(keepends=True)[:200]))
    for args in (("ratings", folder), ("ratings", folder, "--json"), ("single", single, "--json"), ("single", single)):
        code, out, _ = _both(cli, switch, "data", "status", *args, fast_taken="data.quick_status")
        assert code == 0 and "changed" in out and "up to date" not in out
    report = json.loads(_both(cli, switch, "data", "status", "ratings", folder, "--json")[1])
    assert report["added"] == ["block-9/new.csv"] and report["removed"] == ["block-1/part-001.csv"]
    assert report["changed"] == ["block-0/part-000.csv", "block-2/part-002.csv"] and not report["clean"]
    # Mistakes: the quick path steps aside, and the answer is the normal command's.
    _both(cli, switch, "data", "status", "ratings", folder, "--json", "--json")  # not a quick shape
    for args in (("nothing", folder), ("ratings", tmp_path / "missing"), ("Bad Name!", folder), ("", folder),
                 ("ratings",), ("ratings", folder, "--bogus")):
        code, _out, err = _both(cli, switch, "data", "status", *args)
        assert code == 2 and err.strip() and "Traceback" not in err, args


def test_the_lean_reader_equals_the_service(cli: Cli, switch: Switch, tmp_path: Path) -> None:
    folder = _ratings(tmp_path / "ratings", 30)
    cli("data", "add", "ratings", folder)
    (folder / "block-0" / "part-003.csv").write_text("changed\n")
    switch(True)
    ws = connect()
    try:
        assert quick_status("ratings", folder) == ws.data.status("ratings", folder)
        assert fastpaths.taken().get("data.quick_status") == 1
        switch(False)
        assert quick_status("ratings", folder) is None  # off: the caller takes the normal path
        assert fastpaths.taken() == {}
    finally:
        ws.close()


def test_a_watcher_answer_equals_the_computed_status(cli: Cli, switch: Switch, tmp_path: Path) -> None:
    folder = _ratings(tmp_path / "ratings", 30)
    cli("data", "add", "ratings", folder)
    ws = connect()
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=ws.data.watch, args=(folder,),
                              kwargs={"ready": lambda _: ready.set(), "stop": stop.is_set}, daemon=True)
    thread.start()
    try:
        assert ready.wait(60)
        (folder / "block-1" / "part-004.csv").write_text("changed\n")
        (folder / "extra.csv").write_text("x\n")
        for _ in range(200):  # the watcher sees the changes through inotify, soon after
            if json.loads(cli("data", "status", "ratings", folder, "--json")[1])["added"]:
                break
            threading.Event().wait(0.05)
        for args in (("ratings", folder), ("ratings", folder, "--json")):
            _both(cli, switch, "data", "status", *args, fast_taken="data.watch_status")
    finally:
        stop.set()
        thread.join(10)
        ws.close()


def test_add_creates_the_same_versions_on_both_paths(cli: Cli, switch: Switch, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(early, "EARLY_MIN_BYTES", 1)  # so the early copy runs for AI4I's 500 kB
    folder = _ratings(tmp_path / "ratings")
    results = {}
    for on in (True, False):
        monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / f"home-{on}"))
        switch(on)
        file_add = cli("data", "add", "ai4i", AI4I, "--json")
        folder_add = cli("data", "add", "ratings", folder, "--json")
        again = cli("data", "add", "ai4i", AI4I)
        missing = cli("data", "add", "ai4i", tmp_path / "missing.csv")
        bad_name = cli("data", "add", "Bad Name!", AI4I, "--json")
        if on:
            assert fastpaths.taken().get("cli.quick", 0) >= 3 and fastpaths.taken().get("data.early_copy")
        else:
            assert fastpaths.taken() == {}
        versions = [json.loads(out) for code, out, _ in (file_add, folder_add) if code == 0]
        assert len(versions) == 2
        results[on] = ([{k: v[k] for k in ("name", "version", "digest", "rows", "file_count", "size", "created")}
                        for v in versions], flat(again[1]), again[0], missing, bad_name)
    assert results[True] == results[False]
    assert results[True][3][0] == 2 and results[True][4][0] == 2


def flat(text: str) -> str:
    return " ".join(text.split())
