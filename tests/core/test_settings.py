"""Settings precedence: argument > SLIPWAY_* environment > slipway.toml > default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from slipway.core.errors import InvalidInput
from slipway.core.settings import Settings, load_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("SLIPWAY_HOME", "SLIPWAY_STORE_URI", "SLIPWAY_METRIC_BATCH_SIZE", "SLIPWAY_CONFIG",
                 "SLIPWAY_SERVER_URL", "SLIPWAY_TOKEN", "SLIPWAY_LOCAL_ROLES", "SLIPWAY_ALLOW_ANONYMOUS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_precedence(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert load_settings().metric_batch_size == Settings.metric_batch_size  # the default
    (tmp_path / "slipway.toml").write_text(
        '[slipway]\nmetric_batch_size = 111\nstore_uri = "sqlite:///file.db"\nlocal_roles = ["viewer"]\n'
        'home = "state"\n\n[serving]\nmax_batch_rows = 4\n'
    )
    from_file = load_settings()
    assert from_file.metric_batch_size == 111 and from_file.store_uri == "sqlite:///file.db"
    assert from_file.local_roles == ("viewer",)
    assert from_file.home == (tmp_path / "state").resolve()  # relative to the config file
    assert from_file.section("serving") == {"max_batch_rows": 4}
    assert from_file.domain("serving").max_batch_rows == 4 and from_file.domain("serving").max_wait_ms == 2.0
    clean_env.setenv("SLIPWAY_METRIC_BATCH_SIZE", "222")
    clean_env.setenv("SLIPWAY_ALLOW_ANONYMOUS", "yes")
    from_env = load_settings()
    assert from_env.metric_batch_size == 222 and from_env.allow_anonymous is True
    assert from_env.store_uri == "sqlite:///file.db"  # the file still fills what env does not set
    assert load_settings(metric_batch_size=333).metric_batch_size == 333


def test_yaml_and_explicit_config_path(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "conf" / "team.yaml"
    config.parent.mkdir()
    config.write_text("slipway:\n  server_url: http://models.internal:5050\n")
    clean_env.setenv("SLIPWAY_CONFIG", str(config))
    settings = load_settings()
    assert settings.server_url == "http://models.internal:5050" and settings.remote


def test_bad_values_are_clear_errors(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("SLIPWAY_METRIC_BATCH_SIZE", "lots")
    with pytest.raises(InvalidInput, match="metric_batch_size='lots'"):
        load_settings()
    clean_env.delenv("SLIPWAY_METRIC_BATCH_SIZE")
    with pytest.raises(InvalidInput, match="unknown settings: colour"):
        load_settings(colour="red")
    (tmp_path / "slipway.toml").write_text("[slipway\n")
    with pytest.raises(InvalidInput, match=r"slipway\.toml"):
        load_settings()


def test_each_domain_table_is_typed_and_checked_when_settings_load(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from slipway.audit.settings import AuditSettings, audit_settings
    from slipway.governance.settings import GovernanceSettings, governance_settings
    from slipway.webhooks.settings import webhook_settings

    (tmp_path / "slipway.toml").write_text(
        '[governance]\nprotected_aliases = ["prod"]\n[governance.risk_tiers]\nlow = 1\ncritical = 3\n'
        '[governance.webhooks]\nmax_attempts = 2\nbase_delay_s = 1\n[audit]\ncheckpoints = ["a", "b"]\n')
    settings = load_settings()
    governance = governance_settings(settings)
    assert isinstance(governance, GovernanceSettings) and governance.risk_tiers == {"low": 1, "critical": 3}
    assert governance.protected_aliases == ("prod",) and governance.dispatch_in_server is True
    assert webhook_settings(settings).max_attempts == 2 and webhook_settings(settings).base_delay_s == 1.0
    assert webhook_settings(settings).timeout_s == 5.0  # the default fills what the file leaves out
    assert audit_settings(settings) == AuditSettings(checkpoints=("a", "b"))
    assert audit_settings(load_settings(config_path=None)).checkpoints == ("a", "b")


@pytest.mark.parametrize(("text", "message"), [
    ("[governance]\nrisk_tier = {low = 1}\n", "unknown [governance] settings risk_tier; known: risk_tiers"),
    ("[governance.webhooks]\nmax_attempt = 2\n", "unknown [governance.webhooks] settings max_attempt"),
    ("[governance.risk_tiers]\nhigh = \"two\"\n", "governance.risk_tiers must be a table of a whole number"),
    ("[serving]\nmax_batch_rows = true\n", "serving.max_batch_rows = True must be a whole number"),
    ("[audit]\norigin = 5\n", "audit.origin = 5 must be text in quotes"),
    ("[governence]\nrisk_tiers = {}\n", "unknown settings table [governence]"),
])
def test_a_wrong_domain_setting_is_refused_when_settings_load(clean_env: pytest.MonkeyPatch, tmp_path: Path,
                                                              text: str, message: str) -> None:
    (tmp_path / "slipway.toml").write_text(text)
    with pytest.raises(InvalidInput, match=re.escape(message)):
        load_settings()
