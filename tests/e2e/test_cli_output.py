"""What the CLI prints when piped (issue 14 item 19): data is printed exactly, ids are never
wrapped, lineage names its relations once per edge, and --version answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli_models import SLIPWAY, _run


def test_piped_output_keeps_brackets_and_long_ids(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    shown = _run([SLIPWAY, "models", "show", "maint/1"], root, env)
    assert shown.returncode == 0, shown.stderr
    assert "Air temperature [K]" in shown.stdout and "Tool wear [min]" in shown.stdout  # units were eaten as markup
    version = json.loads(_run([SLIPWAY, "models", "show", "maint/1", "--json"], root, env).stdout)
    assert any(line.endswith(version["bundle_digest"]) for line in shown.stdout.splitlines())  # not folded at 80
    runs = _run([SLIPWAY, "runs", "ls", "--experiment", "maintenance"], root, env)
    assert version["run_id"] in runs.stdout


def test_lineage_names_relations_once(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    up = _run([SLIPWAY, "lineage", "maint/1", "--up"], root, env)
    assert up.returncode == 0, up.stderr
    edges = [line for line in up.stdout.splitlines() if line.startswith("  ")]
    assert edges and all("<-[" in line and "]<-" in line for line in edges), up.stdout
    assert len(edges) == len(set(edges))


def test_version_flag(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    done = _run([SLIPWAY, "--version"], root, env)
    assert done.returncode == 0 and done.stdout.startswith("slipway ")


def test_serve_on_a_port_in_use_is_one_line_before_serving(repo: tuple[Path, dict[str, str]]) -> None:
    import socket

    root, env = repo
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run([SLIPWAY, "serve", "maint/1", "--allow-unapproved", "--port", str(port)], root, env)
    assert done.returncode == 2 and "Serving" not in done.stdout, done.stdout
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("fast", ["1", "0"])
def test_data_status_exit_code_says_whether_anything_changed(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             fast: str) -> None:
    monkeypatch.setenv("SLIPWAY_FAST_PATHS", fast)
    from slipway.core import fastpaths

    fastpaths.reset()
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.csv").write_text("x,y\n1,2\n")
    assert cli("data", "add", "w", work)[0] == 0
    assert cli("data", "status", "w", work, "--exit-code")[0] == 0
    assert cli("data", "status", "w", work)[0] == 0
    (work / "a.csv").write_text("x,y\n1,3\n")
    code, out, _ = cli("data", "status", "w", work, "--exit-code")
    assert code == 1 and "changed: a.csv" in out
    code, out, _ = cli("data", "status", "w", work, "--json", "--exit-code")
    assert code == 1 and '"clean": false' in out
    assert cli("data", "status", "w", work)[0] == 0  # without the flag, a change is not an error
