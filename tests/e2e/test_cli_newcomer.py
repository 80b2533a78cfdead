"""Mistakes a newcomer made following README.md and the guides: each is one line and exit code 2,
before anything starts or changes."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e.test_cli_data import Cli, _head, command_lines, flat


@pytest.mark.parametrize("command", [["server"], ["features", "serve"]])
def test_a_server_on_a_port_in_use_or_out_of_range_is_refused_before_its_banner(cli: Cli, command: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = cli(*command, "--port", port)
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in flat(err), (code, out, err)
    assert "on http://" not in out and "Traceback" not in err
    code, out, err = cli(*command, "--port", 99999)
    assert code == 2 and "--port from 1 to 65535 (got 1, 99999)" in flat(err), (code, out, err)
    assert "on http://" not in out


def test_a_week_saved_by_pandas_3_validates_against_a_csv_schema(cli: Cli, tmp_path: Path) -> None:
    """pandas 3 writes strings as Arrow large_string; the CSV-inferred schema says string. The same
    values are no type change (it was an error-level ``type_changed`` that also skipped the
    column's category check)."""
    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.parquet as pq

    history = _head(tmp_path, 500)
    assert cli("data", "add", "ai4i", history, "--key", "UDI")[0] == 0
    assert cli("data", "schema", "infer", "ai4i")[0] == 0
    week = pyarrow.csv.read_csv(history)
    for index, name in ((1, "Product ID"), (2, "Type")):
        week = week.set_column(index, name, week[name].cast(pa.large_string()))
    pq.write_table(week, tmp_path / "week.parquet")
    code, out, _ = cli("data", "validate", tmp_path / "week.parquet", "--schema", "ai4i", "--json")
    assert code == 0 and "type_changed" not in out, out
    bad = week.set_column(2, "Type", pa.array(["Z"] * week.num_rows, pa.large_string()))
    pq.write_table(bad, tmp_path / "bad.parquet")
    code, out, _ = cli("data", "validate", tmp_path / "bad.parquet", "--schema", "ai4i", "--json")
    assert code == 1 and "unseen_category" in out and "type_changed" not in out, out


def test_a_user_with_project_bindings_only_is_created_without_roles(cli: Cli) -> None:
    """docs/governance.md: a user may have only bindings (created with no roles); the CLI required
    --role, so the guide's team set-up could not be followed from the command line."""
    assert cli("projects", "create", "fraud")[0] == 0
    code, out, err = cli("users", "create", "alice")
    assert code == 0 and "Created user alice (no global roles)" in out, err
    assert cli("users", "bind", "alice", "developer", "--project", "fraud")[0] == 0
    code, out, _ = cli("users", "bindings", "alice", "--json")
    assert code == 0 and '"project": "fraud"' in out and '"role": "developer"' in out, out


def test_whoami_names_a_bound_users_project_roles(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user with bindings only printed ``alice (user): `` and nothing after the colon."""
    import slipway

    assert cli("projects", "create", "fraud")[0] == 0
    assert cli("users", "create", "alice")[0] == 0
    assert cli("users", "bind", "alice", "developer", "--project", "fraud")[0] == 0
    assert cli("users", "whoami")[1].strip().endswith("): admin")
    key = tmp_path / "alice.pem"
    slipway.generate_signing_key(key, "alice")
    assert cli("users", "key", "add", "alice", f"{key}.pub")[0] == 0
    monkeypatch.setenv("SLIPWAY_USER", "alice")
    monkeypatch.setenv("SLIPWAY_SIGNING_KEY", str(key))
    code, out, err = cli("users", "whoami")
    assert code == 0 and out.strip() == "alice (user): no global roles; developer in fraud", (out, err)


@pytest.mark.parametrize("command", [["deploy", "apply"], ["monitors", "apply"], ["governance", "policy", "set"]])
def test_a_spec_saved_as_utf16_is_one_line_not_a_traceback(cli: Cli, tmp_path: Path, command: list[str]) -> None:
    """A YAML file a Windows editor saved as UTF-16 raised UnicodeDecodeError with a traceback."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: d\n", encoding="utf-16")
    code, _, err = cli(*command, spec)
    assert code == 2 and "is not UTF-8 text" in flat(err) and "Traceback" not in err, err
    assert len(command_lines(err)) == 1, err


@pytest.mark.parametrize("command", [["deploy", "apply", "{spec}"], ["monitors", "apply", "{spec}"],
                                     ["governance", "policy", "set", "{spec}", "--tier", "low"],
                                     ["features", "plan", "{folder}"], ["apply", "{folder}", "--dry-run"]])
def test_a_yaml_syntax_error_is_one_line_naming_where(cli: Cli, tmp_path: Path, command: list[str]) -> None:
    """PyYAML's message spans four lines (context, quoted line, caret); the CLI prints one."""
    folder = tmp_path / "repo"
    folder.mkdir()
    spec = folder / "spec.yaml"
    spec.write_text("name: d\nvariants:\n  - {name: a, model: m/1\n")
    code, _, err = cli(*(part.format(spec=spec, folder=folder) for part in command))
    assert code == 2 and "not valid YAML: line 4, column 1: expected ',' or '}'" in err, err
    assert len(command_lines(err)) == 1, err


def test_the_server_says_it_is_on_once_it_answers(tmp_path: Path) -> None:
    """A script that starts `slipway server` in the background and waits for its line calls it
    straight away: the line comes once the port accepts connections (it came before, so the first
    call could be refused)."""
    import os
    import subprocess
    import sys

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SLIPWAY_HOME": str(tmp_path / "home"), "SLIPWAY_SERVER_URL": "", "SLIPWAY_TOKEN": ""}
    slipway = Path(sys.executable).parent / "slipway"
    server = subprocess.Popen([str(slipway), "server", "--port", str(port)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        for line in server.stdout:  # blocks until the line (or the end, if the server died)
            if "Slipway server on" in line:
                break
        else:
            raise AssertionError(f"the server ended without its line (exit {server.wait()})")
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).json() == {"status": "ok"}  # no retry
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_a_missing_object_in_the_default_store_names_the_store(tmp_path: Path) -> None:
    """Forgetting the quickstart's `export SLIPWAY_HOME=…` opens ./.slipway, where nothing exists:
    the refusal says which store it looked in and why."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    slipway = Path(sys.executable).parent / "slipway"
    done = subprocess.run([str(slipway), "models", "show", "ai4i-failure"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert flat(done.stderr) == (f"NotFound: registered model 'ai4i-failure' does not exist (in the store at "
                                 f"{tmp_path / '.slipway'}: SLIPWAY_HOME is not set)")
    named = subprocess.run([str(slipway), "models", "show", "ai4i-failure"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300, env={**env, "SLIPWAY_HOME": str(tmp_path / "home")})
    assert named.returncode == 2 and "SLIPWAY_HOME" not in named.stderr
