"""Bad input that used to be accepted silently (issue 14, item 17): each is one line, exit 2, and
nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_cli_data import Cli, _head, flat


@pytest.mark.parametrize(("rule", "message"), [
    ("{type: strin}", "'strin' is not an Arrow type name"),
    ("{type: int64, min: 100, max: 0}", "min 100 is above max 0"),
    ("{type: int64, max_null_share: 2}", "max_null_share is a share between 0 and 1"),
    ("{type: int64, required: maybe}", "required must be true or false"),
])
def test_a_bad_schema_is_refused_and_stores_nothing(cli: Cli, tmp_path: Path, rule: str, message: str) -> None:
    assert cli("data", "add", "ai4i", _head(tmp_path, 100), "--key", "UDI")[0] == 0
    assert cli("data", "schema", "infer", "ai4i")[0] == 0
    before = cli("data", "schema", "show", "ai4i")
    edited = tmp_path / "schema.yaml"
    edited.write_text(f"columns:\n  UDI: {rule}\n")
    code, _, err = cli("data", "schema", "edit-file", "ai4i", edited)
    assert code == 2 and message in flat(err) and "Traceback" not in err
    assert cli("data", "schema", "show", "ai4i") == before


def test_a_policy_for_an_unregistered_model_or_unknown_tier_is_refused(cli: Cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("applies_to: [approved]\nmetrics:\n  f1: {min: 0.5}\n")
    code, _, err = cli("governance", "policy", "set", policy, "--model", "nosuch")
    assert code == 2 and "model 'nosuch' is not registered" in flat(err)
    code, _, err = cli("governance", "policy", "set", policy, "--tier", "extreme")
    assert code == 2 and "risk tier 'extreme' is not configured" in flat(err)
    assert cli("models", "create", "nosuch", "--risk-tier", "high")[0] == 0
    assert cli("governance", "policy", "set", policy, "--model", "nosuch")[0] == 0


@pytest.mark.parametrize(("line", "message"), [
    ("home = 5", "home = 5 must be a folder path in quotes"),
    ("hom = '.slipway'", "unknown [slipway] settings hom"),
    ("metric_batch_size = 'many'", "metric_batch_size = 'many' must be a whole number"),
])
def test_a_bad_config_file_is_refused(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str,
                                      message: str) -> None:
    (tmp_path / "slipway.toml").write_text(f"[slipway]\n{line}\n")
    monkeypatch.delenv("SLIPWAY_HOME")
    code, _, err = cli("data", "ls")
    assert code == 2 and message in flat(err) and "Traceback" not in err
    assert not (tmp_path / "5").exists()


def test_weights_that_do_not_add_up_to_100_are_refused_not_rewritten(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "deployment.yaml"
    spec.write_text("name: d\nvariants:\n  - {name: a, model: m/1, role: stable, weight: 60}\n"
                    "  - {name: b, model: m/2, role: canary, weight: 60}\n")
    code, _, err = cli("deploy", "apply", spec)
    assert code == 2 and "the canary's weight 60 is not its first step 5" in flat(err)
    spec.write_text("name: d\nvariants:\n  - {name: a, model: m/1, weight: 60}\n  - {name: b, model: m/2, weight: 60}\n")
    code, _, err = cli("deploy", "apply", spec)
    assert code == 2 and "must add up to 100, got 120 (a=60, b=60)" in flat(err)
