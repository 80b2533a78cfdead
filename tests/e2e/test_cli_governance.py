"""The governance, users, lineage and ``audit at`` commands, as a user types them."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from slipway.cli.main import app, main
from slipway.core.environment import os_user
from slipway.core.errors import Conflict
from slipway.workspace import open_workspace, set_default
from tests.governance.credit import register_credit
from tests.support import make_settings


@pytest.fixture
def cli(home: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SLIPWAY_HOME", str(home))
    monkeypatch.delenv("SLIPWAY_SERVER_URL", raising=False)
    monkeypatch.chdir(home)
    runner = CliRunner()

    def run(*args: str, user: str = "tester", code: int = 0, error: type[Exception] | None = None) -> str:
        _act_as(monkeypatch, home, user)
        set_default(None)  # each command opens the workspace afresh, as a new process would
        result = runner.invoke(app, list(args))
        set_default(None)
        if error is not None:  # main() turns these into one line and exit code 2 (checked below)
            assert isinstance(result.exception, error), (args, result.output, result.exception)
            return str(result.exception)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result.output

    return run


def _act_as(monkeypatch: pytest.MonkeyPatch, home: Path, user: str) -> None:
    """SLIPWAY_USER, and SLIPWAY_SIGNING_KEY when ``home/keys/USER`` holds that user's key."""
    monkeypatch.setenv("SLIPWAY_USER", user)
    key = home / "keys" / user
    if key.exists():
        monkeypatch.setenv("SLIPWAY_SIGNING_KEY", str(key))
    else:
        monkeypatch.delenv("SLIPWAY_SIGNING_KEY", raising=False)


def _slipway(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, user: str) -> tuple[int, str]:
    """The real entry point (``slipway`` = ``main()``), with its error handling, in this process."""
    _act_as(monkeypatch, Path.cwd(), user)
    monkeypatch.setattr(sys, "argv", ["slipway", *args])
    set_default(None)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main()
    set_default(None)
    return int(exited.value.code or 0), capsys.readouterr().err


def test_governance_cli_end_to_end(home: Path, cli, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                   capsys: pytest.CaptureFixture[str]) -> None:
    ws = open_workspace(make_settings(home))
    version, data_ref = register_credit(ws, "credit", mitigated=True)
    ws.close()
    ref = f"credit/{version}"
    cli("users", "create", "bob", "--role", "approver")
    cli("users", "create", "vera", "--role", "viewer")
    for person in ("bob", "vera"):  # each makes a key; the admin registers its public half
        cli("users", "key", "generate", str(home / "keys" / person), user=person)
        cli("users", "key", "add", person, str(home / "keys" / f"{person}.pub"))
    assert {u["name"] for u in orjson.loads(cli("users", "ls", "--json"))} == {os_user(), "tester", "bob", "vera"}
    assert {k["user"] for k in orjson.loads(cli("users", "key", "ls", "--json"))} == {"tester", "bob", "vera"}
    policy = home / "policy.yaml"
    policy.write_text("metrics: {accuracy: {min: 0.6}}\nmodel_card: {required_sections: [intended_use]}\n")
    cli("governance", "policy", "set", str(policy), "--tier", "low")
    assert orjson.loads(cli("governance", "status", ref, "--json"))["state"] == "registered"
    assert "intended_use" in cli("governance", "check", ref, code=1)
    cli("governance", "card-edit", ref, "--section", "intended_use", "--text", "Credit pre-screening.")
    assert "pass" in cli("governance", "check", ref)

    request = orjson.loads(cli("governance", "request", ref, "--reason", "release", "--json"))
    code, stderr = _slipway(monkeypatch, capsys, "governance", "approve", request["id"], "--comment", "mine", user="vera")
    assert code == 2 and stderr.startswith("PermissionDenied: vera") and "Traceback" not in stderr
    bad = cli("governance", "transition", ref, "deployed", error=Conflict)
    assert "cannot go from pending_approval to deployed" in bad
    assert "approved" in cli("governance", "approve", request["id"], "--comment", "ok", user="bob")
    assert orjson.loads(cli("models", "show", ref, "--json"))["state"] == "approved"  # the registry shows our state
    before = int(time.time() * 1000)
    time.sleep(0.01)
    cli("governance", "promote", ref, "champion")
    holders = orjson.loads(cli("audit", "at", str(int(time.time() * 1000)), "--json"))
    assert [(h["alias"], h["version"]) for h in holders] == [("champion", version)]
    assert orjson.loads(cli("audit", "at", str(before), "--json")) == []

    card = cli("governance", "card", ref, "--format", "md")
    assert "bob" in card and data_ref.replace("@", " version ") in card and "Credit pre-screening." in card
    out = home / "card.html"
    cli("governance", "card", ref, "--format", "html", "--output", str(out))
    assert out.read_text().startswith("<!doctype html>")

    hook = orjson.loads(cli("governance", "webhooks", "add", "http://127.0.0.1:9/hook", "-e", "alert", "--json"))
    assert hook["webhook"]["event_types"] == ["alert"] and len(hook["secret"]) == 64
    assert orjson.loads(cli("governance", "webhooks", "dispatch", "--json"))["attempted"] == 0
    assert orjson.loads(cli("governance", "webhooks", "deliveries", "--json")) == []

    token = orjson.loads(cli("users", "token", "create", "bob", "--json"))
    assert token["token"].startswith("slw_")
    cli("users", "token", "revoke", token["info"]["id"])
    assert orjson.loads(cli("users", "token", "ls", "--user", "bob", "--json"))[0]["revoked_ms"] is not None

    up = orjson.loads(cli("lineage", ref, "--up", "--json"))
    assert [n["id"] for n in up["nodes"] if n["kind"] == "dataset_version"] == [data_ref]
    assert "dataset_version:" in cli("lineage", f"dataset:{data_ref}", "--down")
