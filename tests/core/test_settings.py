"""Settings precedence: argument > SLIPWAY_* environment > slipway.toml > default."""

from __future__ import annotations

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
        'home = "state"\n\n[serving]\nworkers = 4\n'
    )
    from_file = load_settings()
    assert from_file.metric_batch_size == 111 and from_file.store_uri == "sqlite:///file.db"
    assert from_file.local_roles == ("viewer",)
    assert from_file.home == (tmp_path / "state").resolve()  # relative to the config file
    assert from_file.section("serving") == {"workers": 4}
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
