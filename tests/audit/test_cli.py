"""``slipway audit keygen|checkpoint|verify|prove|check-proof`` as a user runs them: real processes,
real exit codes (0 ok, 1 tampered or rejected, 2 bad input)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update(SLIPWAY_HOME=str(cwd / "home"), COLUMNS="200")  # acts as the OS user (the store's admin)
    return subprocess.run([sys.executable, "-m", "slipway.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def test_cli_round_trip(tmp_path: Path) -> None:
    keys = tmp_path / "keys" / "audit.pem"
    made = _run(tmp_path, "audit", "keygen", str(keys))
    assert made.returncode == 0 and keys.stat().st_mode & 0o777 == 0o600
    assert _run(tmp_path, "audit", "keygen", str(keys)).returncode == 2  # never overwritten
    (tmp_path / "slipway.toml").write_text(f'[audit]\nsigning_key = "{keys}"\npublic_key = "{keys}.pub"\n'
                                           f'checkpoints = "{tmp_path / "published"}"\n')
    for name in ("ann", "ben", "cat"):
        assert _run(tmp_path, "users", "create", name, "--role", "viewer").returncode == 0
    published = _run(tmp_path, "audit", "checkpoint", "--json")
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout)["checkpoint"]["tree_size"] >= 3
    scheduled = _run(tmp_path, "audit", "checkpoint", "--every", "1", "--count", "2")
    assert scheduled.returncode == 0 and scheduled.stdout.count("published to") == 2, scheduled.stderr
    assert len(list((tmp_path / "published").glob("checkpoint-*.json"))) == 3
    ok = _run(tmp_path, "audit", "verify")
    assert ok.returncode == 0 and "signed checkpoint" in ok.stdout, ok.stderr
    proof = _run(tmp_path, "audit", "prove", "2", "--output", str(tmp_path / "proof.json"))
    assert proof.returncode == 0, proof.stderr
    checked = _run(tmp_path, "audit", "check-proof", str(tmp_path / "proof.json"), "--public-key", f"{keys}.pub")
    assert checked.returncode == 0 and "valid" in checked.stdout
    with sqlite3.connect(tmp_path / "home" / "slipway.db") as db:
        db.execute("UPDATE users SET roles = '[\"admin\"]' WHERE name = 'ann'")
    bad = _run(tmp_path, "audit", "verify")
    assert bad.returncode == 1 and "user ann has roles ['admin']" in bad.stderr and "Traceback" not in bad.stderr
    document = json.loads((tmp_path / "proof.json").read_text())
    document["event"]["actor"] = "mallory"
    (tmp_path / "forged.json").write_text(json.dumps(document))
    forged = _run(tmp_path, "audit", "check-proof", str(tmp_path / "forged.json"), "--public-key", f"{keys}.pub")
    assert forged.returncode == 1 and "proof rejected" in forged.stderr
    missing = _run(tmp_path, "audit", "verify", "--checkpoint", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "nope.json" in missing.stderr and "Traceback" not in missing.stderr
