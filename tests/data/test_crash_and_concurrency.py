"""Kill -9 in the middle of an add, and two processes adding to one dataset at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from slipway.workspace import open_workspace
from tests.support import AI4I, make_settings, postgres_database

ROOT = Path(__file__).resolve().parents[2]


def _worker(home: Path, store_uri: str, name: str, path: Path, start: Path | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.data.add_worker", str(home), store_uri, name, str(path)]
    return subprocess.Popen([*args, *([str(start)] if start else [])], cwd=ROOT, stdout=subprocess.PIPE, text=True)


def _blob_count(artifacts: Path) -> int:
    return sum(len(files) for folder, _, files in os.walk(artifacts) if not folder.endswith("tmp"))


def _many_files(folder: Path, count: int) -> Path:
    """``count`` distinct ~0.5 MB files made of the real AI4I bytes."""
    folder.mkdir()
    body = AI4I.read_bytes()
    for i in range(count):
        (folder / f"part-{i:04d}.txt").write_bytes(body + f"\n# part {i}\n".encode())
    return folder


def test_sigkill_during_add_leaves_no_half_version(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = _many_files(tmp_path / "parts", 240)
    worker = _worker(home, "", "parts", folder)
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    artifacts = home / "artifacts"
    deadline = time.time() + 60
    while _blob_count(artifacts) < 20 and time.time() < deadline and worker.poll() is None:
        time.sleep(0.002)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    stored = _blob_count(artifacts)
    assert 20 <= stored < 240, f"the kill did not land while blobs were being stored ({stored} stored)"

    ws = open_workspace(make_settings(home))
    assert ws.data.list_datasets() == []  # no dataset, no version pointing at missing blobs
    assert ws.audit.verify().ok
    version = ws.data.add("parts", folder)  # the add simply runs again
    assert (version.ref, version.file_count) == ("parts@1", 240)
    assert ws.data.verify(version).ok


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_concurrent_adds_get_distinct_versions(tmp_path: Path, store: str) -> None:
    lines = AI4I.read_text().splitlines(keepends=True)
    paths = []
    for i, rows in enumerate((3000, 5000)):
        path = tmp_path / f"in{i}" / "ai4i.csv"
        path.parent.mkdir()
        path.write_text("".join(lines[: rows + 1]))
        paths.append(path)
    start = tmp_path / "go"

    def run(store_uri: str) -> list[dict[str, str]]:
        home = tmp_path / "home"
        workers = [_worker(home, store_uri, "ai4i", p, start) for p in paths]
        for w in workers:
            assert w.stdout is not None and w.stdout.readline().strip() == "ready"
        start.touch()
        results = [orjson.loads(w.communicate(timeout=120)[0]) for w in workers]
        ws = open_workspace(make_settings(home, store_uri=store_uri))
        versions = ws.data.versions("ai4i")
        created = [r for r in results if "ref" in r]
        assert all(r.get("error") == "Conflict" for r in results if "ref" not in r)
        assert sorted(r["ref"] for r in created) == [v.ref for v in versions]
        assert len({v.digest for v in versions}) == len(versions) >= 1
        assert {r["digest"] for r in created} == {v.digest for v in versions}
        for v in versions:
            assert ws.data.verify(v).ok and ws.data.load(v).num_rows in (3000, 4000, 5000)
        assert ws.audit.verify().ok
        return results

    if store == "postgres":
        with postgres_database() as uri:
            results = run(uri)
    else:
        results = run("")
    assert len(results) == 2
