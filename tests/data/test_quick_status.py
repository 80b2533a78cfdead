"""``slipway data status`` on its lean path gives the report the normal path gives, and steps
aside (returns None) whenever it cannot answer alike."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slipway.core.environment import os_user
from slipway.data.quick import quick_status
from slipway.workspace import connect, set_default

pytestmark = pytest.mark.fast_path  # tests the shortcut itself (CONTRIBUTING.md, "Fast paths")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SLIPWAY_USER", raising=False)  # embedded mode acts as the OS user
    monkeypatch.delenv("SLIPWAY_SIGNING_KEY", raising=False)
    monkeypatch.delenv("SLIPWAY_SERVER_URL", raising=False)
    monkeypatch.delenv("SLIPWAY_STORE_URI", raising=False)
    set_default(None)
    return tmp_path / "home"


def _folder(root: Path) -> Path:
    for i in range(30):
        (root / f"part-{i % 3}").mkdir(parents=True, exist_ok=True)
        (root / f"part-{i % 3}" / f"f{i}.bin").write_bytes(os.urandom(100 + i))
    return root


def test_lean_and_normal_status_agree(home: Path, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "work")
    ws = connect()
    ws.data.add("shards", folder)
    assert quick_status("shards", folder) == ws.data.status("shards", folder)
    assert quick_status("shards", folder).clean  # type: ignore[union-attr]
    (folder / "part-0" / "f0.bin").write_bytes(b"changed")
    (folder / "part-1" / "f1.bin").unlink()
    (folder / "new.bin").write_bytes(b"new")
    lean = quick_status("shards", folder)
    assert lean == ws.data.status("shards", folder)
    assert lean is not None and (lean.added, lean.removed, lean.changed) == (
        ["new.bin"], ["part-1/f1.bin"], ["part-0/f0.bin"])
    single = tmp_path / "one.csv"
    single.write_text("a,b\n1,2\n")
    ws.data.add("one", single)
    assert quick_status("one", single) == ws.data.status("one", single)


def test_lean_status_steps_aside(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path / "work")
    assert quick_status("shards", folder) is None  # no store yet: the normal path creates it
    ws = connect()
    ws.data.add("shards", folder)
    assert quick_status("nope", folder) is None  # unknown dataset: the normal path names it
    assert quick_status("bad name!", folder) is None
    monkeypatch.setenv("SLIPWAY_USER", "alice")  # acting as another user needs their key: the normal path
    assert quick_status("shards", folder) is None
    monkeypatch.delenv("SLIPWAY_USER")
    assert quick_status("shards", folder) is not None
    ws.identity.create_user("auditor", ["admin"])
    ws.identity.set_roles(os_user(), ["auditor"])  # the user row decides: auditor reads, so lean still answers
    assert quick_status("shards", folder) is not None
    ws.identity.set_disabled(os_user(), True)  # a disabled user: the normal path refuses it
    assert quick_status("shards", folder) is None
    monkeypatch.setenv("SLIPWAY_SERVER_URL", "http://127.0.0.1:9")
    assert quick_status("shards", folder) is None
