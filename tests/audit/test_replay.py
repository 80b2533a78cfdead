"""``audit verify`` replays the ledger against the rows that govern behaviour and names every row
that no event explains; ``models load-check`` refuses a version whose bundle digest was repointed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

import slipway
from slipway.store.database import Database
from slipway.workspace import Workspace
from tests.models.ai4i import ai4i, fitted_pipeline


def _db(ws: Workspace) -> Database:
    return ws.backend("audit").ctx.db  # type: ignore[no-any-return]


def _register(ws: Workspace, kind: str = "forest") -> int:
    X, y = ai4i(500)
    model = fitted_pipeline(kind)
    with ws.tracking.start_run("train", experiment="audit"):
        ws.tracking.log_metric("accuracy", float(model.score(X, y)))
        info = slipway.log_model(model, input_example=X.head(5), registered_model_name="credit")
    assert info.version is not None
    return int(info.version)


@pytest.fixture
def governed(sqlite_ws: Workspace) -> Workspace:
    _register(sqlite_ws)
    _register(sqlite_ws, "boosting")
    sqlite_ws.registry.set_alias("credit", "staging", 1)
    sqlite_ws.identity.create_user("dev", ["developer"])
    sqlite_ws.governance.set_policy("metrics:\n  accuracy: {min: 0.5}\n", tier="low")
    verdict = sqlite_ws.audit.verify()
    assert verdict.ok, verdict.problems
    return sqlite_ws


def _edit(ws: Workspace, sql: str) -> list[str]:
    with _db(ws).write() as conn:
        conn.execute(text(sql))
    verdict = ws.audit.verify()
    assert not verdict.ok
    return [p.message for p in verdict.problems]


def test_state_set_to_approved_directly_is_named(governed: Workspace) -> None:
    messages = _edit(governed, "UPDATE model_versions SET state = 'approved' WHERE version = 2")
    assert any("credit/2 is 'approved'" in m and "'registered'" in m for m in messages), messages


def test_rewritten_metrics_are_named(governed: Workspace) -> None:
    messages = _edit(governed, "UPDATE model_versions SET metrics = '{\"accuracy\": 0.999}' WHERE version = 1")
    assert any("credit/1's metrics differ" in m for m in messages), messages


def test_rewritten_params_are_named(governed: Workspace) -> None:
    messages = _edit(governed, "UPDATE model_versions SET params = '{\"kind\": \"other\"}' WHERE version = 1")
    assert any("credit/1's signature, params or datasets differ" in m for m in messages), messages


def test_repointed_bundle_is_named_and_load_check_refuses_it(governed: Workspace) -> None:
    other = governed.registry.get_version("credit", 2).bundle_digest
    messages = _edit(governed, f"UPDATE model_versions SET bundle_digest = '{other}' WHERE version = 1")
    assert any("credit/1 points at bundle" in m for m in messages), messages
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update(SLIPWAY_HOME=str(governed.settings.home), COLUMNS="200")  # acts as the OS user (admin)
    result = subprocess.run([sys.executable, "-m", "slipway.cli.main", "models", "load-check", "credit/1"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1 and "not verified" in result.stderr and "verified," not in result.stdout
    untouched = subprocess.run([sys.executable, "-m", "slipway.cli.main", "models", "load-check", "credit/2"],
                               capture_output=True, text=True, env=env, timeout=120)
    assert untouched.returncode == 0 and "verified" in untouched.stdout


def test_inserted_admin_user_is_named(governed: Workspace) -> None:
    messages = _edit(governed, "INSERT INTO users (id, name, kind, roles, email, disabled, created_ms) VALUES "
                               "('ffffffffffffffffffffffffffffffff', 'mallory', 'user', '[\"admin\"]', NULL, false, 0)")
    assert any("user mallory" in m and "no creation event" in m for m in messages), messages


def test_raised_roles_are_named(governed: Workspace) -> None:
    messages = _edit(governed, "UPDATE users SET roles = '[\"admin\"]' WHERE name = 'dev'")
    assert any("user dev has roles ['admin']" in m for m in messages), messages


def test_moved_alias_is_named(governed: Workspace) -> None:
    messages = _edit(governed, "UPDATE model_aliases SET version = 2 WHERE alias = 'staging'")
    assert any("alias credit@staging is at 2" in m for m in messages), messages


def test_lowered_risk_tier_is_named(governed: Workspace) -> None:
    governed.registry.update_model("credit", risk_tier="high")
    messages = _edit(governed, "UPDATE registered_models SET risk_tier = 'low' WHERE name = 'credit'")
    assert any("risk tier 'low'" in m for m in messages), messages


def test_edited_policy_is_named(governed: Workspace) -> None:
    messages = _edit(governed, "UPDATE policies SET source = 'metrics: {}' WHERE target = 'low'")
    assert any("policy tier:low revision 1 was changed" in m for m in messages), messages


def test_deleted_version_row_is_named(governed: Workspace) -> None:
    with _db(governed).write() as conn:
        conn.execute(text("DELETE FROM model_aliases"))
        conn.execute(text("DELETE FROM lineage_edges WHERE dst_id = 'credit/2'"))
    messages = _edit(governed, "DELETE FROM model_versions WHERE version = 2")
    assert any("credit/2 was registered" in m and "row is gone" in m for m in messages), messages


def test_state_replay_on_postgres(home: Path, pg_uri: str) -> None:
    from slipway.workspace import open_workspace, set_default
    from tests.support import make_settings

    ws = open_workspace(make_settings(home, store_uri=pg_uri))
    set_default(ws)
    try:
        _register(ws)
        assert ws.audit.verify().ok
        messages = _edit(ws, "UPDATE model_versions SET state = 'approved'")
        assert any("credit/1 is 'approved'" in m for m in messages), messages
    finally:
        set_default(None)
        ws.close()
