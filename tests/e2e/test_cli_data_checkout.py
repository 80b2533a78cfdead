"""``slipway data get`` and ``data checkout`` as a user runs them: unversioned work is kept, one line and exit 2."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from slipway.workspace import set_default
from tests.support import in_process_cli

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    """The real ``slipway`` entry point in-process, from a Git repository in ``tmp_path/repo``."""
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SLIPWAY_SERVER_URL", raising=False)
    set_default(None)

    yield in_process_cli(monkeypatch, capsys)
    set_default(None)


def git(*args: str) -> None:
    subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args], check=True,
                   capture_output=True)


def test_get_keeps_unversioned_changes_unless_forced(cli: Cli, tmp_path: Path) -> None:
    data = Path("sensors.csv")
    data.write_text("t,v\n1,2\n")
    assert cli("data", "add", "sensors", data)[0] == 0
    data.write_text("t,v\nmy edit\n")
    code, out, err = cli("data", "get", "sensors@1", data)
    assert code == 2 and "not versioned" in err and "--force" in err and "Traceback" not in err + out
    assert len(err.strip().splitlines()) <= 2  # one message (Rich may wrap it)
    assert data.read_text() == "t,v\nmy edit\n"
    assert cli("data", "get", "sensors@1", data, "--force")[0] == 0
    assert data.read_text() == "t,v\n1,2\n" and os.stat(data).st_nlink == 1  # a copy by default
    assert cli("data", "get", "sensors@1", tmp_path / "linked.csv", "--link")[0] == 0
    assert os.stat(tmp_path / "linked.csv").st_nlink >= 2


def test_add_pointer_commit_and_checkout(cli: Cli) -> None:
    git("init", "-q")
    Path(".gitignore").write_text("sensors.csv\n")
    data = Path("sensors.csv")
    data.write_text("t,v\n1,2\n")
    code, out, _ = cli("data", "add", "sensors", data, "--pointer")
    assert code == 0 and "sensors.csv.slipway" in out
    git("add", ".")
    git("commit", "-qm", "v1")
    data.write_text("t,v\n1,2\n2,3\n")
    assert cli("data", "add", "sensors", data, "--pointer")[0] == 0
    git("commit", "-qam", "v2")
    git("checkout", "-q", "HEAD~1")
    code, out, _ = cli("data", "checkout", "--json")
    assert code == 0 and [(d["ref"], d["written"]) for d in orjson.loads(out)] == [("sensors@1", ["sensors.csv"])]
    assert data.read_text() == "t,v\n1,2\n"
    code, _, err = cli("data", "checkout", "nosuch.csv")
    assert code == 2 and "no pointer file for nosuch.csv" in " ".join(err.split())
