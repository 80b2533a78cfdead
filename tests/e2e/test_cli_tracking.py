"""The tracking, audit and gc commands, in-process (CliRunner) and as a real ``slipway`` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from slipway.cli.main import app
from slipway.workspace import Workspace

runner = CliRunner()


def _seed(ws: Workspace) -> list[str]:
    ids = []
    for model, auc in (("rf", 0.91), ("gb", 0.95), ("lr", 0.80)):
        with ws.tracking.start_run(f"fit-{model}", experiment="cli") as run:
            ws.tracking.log_params({"model": model})
            ws.tracking.log_metric("auc", auc)
        ids.append(run.id)
    return ids


def _slipway(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update(SLIPWAY_HOME=str(home), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "slipway.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_listing_show_search_compare_delete(sqlite_ws: Workspace) -> None:
    ids = _seed(sqlite_ws)
    result = runner.invoke(app, ["experiments", "ls", "--json"])
    assert result.exit_code == 0 and [e["name"] for e in json.loads(result.output)] == ["cli"]
    result = runner.invoke(app, ["runs", "ls", "--experiment", "cli", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)  # a list, like every other --json listing
    assert [r["id"] for r in listed] == list(reversed(ids)) and "--page-token" not in result.stderr
    result = runner.invoke(app, ["runs", "ls", "-n", "2"])
    assert result.exit_code == 0 and "fit-lr" in result.output and "--page-token" in result.output
    result = runner.invoke(app, ["runs", "ls", "-n", "2", "--json"])
    assert len(json.loads(result.stdout)) == 2 and "--page-token" in result.stderr
    result = runner.invoke(app, ["runs", "show", ids[0]])
    assert result.exit_code == 0 and "fit-rf" in result.output and "0.91" in result.output
    result = runner.invoke(app, ["runs", "show", ids[0], "--json"])
    assert json.loads(result.output)["run"]["params"] == {"model": "rf"}
    result = runner.invoke(app, ["runs", "search", "metrics.auc > 0.85", "--order-by", "metrics.auc DESC", "--json"])
    assert [r["name"] for r in json.loads(result.stdout)] == ["fit-gb", "fit-rf"]
    result = runner.invoke(app, ["runs", "compare", ids[0], ids[1], "--json"])
    assert json.loads(result.output)["params"] == {"model": ["rf", "gb"]}
    assert runner.invoke(app, ["runs", "compare", ids[0], ids[1]]).exit_code == 0
    assert runner.invoke(app, ["runs", "delete", ids[2]]).exit_code == 0
    result = runner.invoke(app, ["runs", "ls", "--json"])
    assert ids[2] not in [r["id"] for r in json.loads(result.stdout)]
    assert runner.invoke(app, ["runs", "restore", ids[2]]).exit_code == 0
    result = runner.invoke(app, ["audit", "log", "--subject", f"run:{ids[2]}", "--json"])
    assert [e["action"] for e in json.loads(result.output)][:2] == ["run.restore", "run.delete"]
    result = runner.invoke(app, ["audit", "log", "--action", "run.*", "--limit", "2"])
    assert result.exit_code == 0 and "run.restore" in result.output
    result = runner.invoke(app, ["experiments", "create", "second", "-d", "more"])
    assert result.exit_code == 0 and "second" in result.output


def test_gc_command(sqlite_ws: Workspace) -> None:
    orphan = sqlite_ws.blobs.put_bytes(b"unreferenced")
    result = runner.invoke(app, ["gc", "--dry-run", "--grace-seconds", "0", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["deleted"] >= 1
    assert sqlite_ws.blobs.exists(orphan)
    result = runner.invoke(app, ["gc", "--grace-seconds", "0"])
    assert result.exit_code == 0 and "deleted" in result.output
    assert not sqlite_ws.blobs.exists(orphan)
    assert [e.action for e in sqlite_ws.audit.log(action="blobs.gc")] == ["blobs.gc"]


def test_user_mistakes_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = _slipway(home, "runs", "search", "metrics.auc >> 1")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "position 13" in result.stderr
    assert "Traceback" not in result.stderr
    result = _slipway(home, "runs", "show", "f" * 32)
    assert result.returncode == 2 and "NotFound" in result.stderr and "Traceback" not in result.stderr


def test_audit_verify_exit_codes(sqlite_ws: Workspace) -> None:
    _seed(sqlite_ws)
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "ok: " in ok.output and "every" in ok.output
    with sqlite_ws.backend("tracking").ctx.db.write() as conn:
        conn.execute(text("UPDATE audit_events SET details = replace(details, 'model', 'mode1') "
                          "WHERE action = 'run.log_batch'"))
    bad = _slipway(sqlite_ws.settings.home, "audit", "verify")  # a real process, for the real exit code
    assert bad.returncode == 1, bad.stderr
    assert "failed at event" in bad.stderr and "altered" in bad.stderr
    as_json = runner.invoke(app, ["audit", "verify", "--json"])
    assert as_json.exit_code == 1
    verdict = json.loads(as_json.output)
    assert verdict["ok"] is False and isinstance(verdict["first_bad_seq"], int)


def test_listing_works_in_a_fresh_home(tmp_path: Path) -> None:
    result = _slipway(tmp_path / "fresh", "runs", "ls", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
