"""One typed settings object.

Each value comes from, in order: an argument to :func:`load_settings`, a ``SLIPWAY_*``
environment variable, the ``[slipway]`` table of ``slipway.toml`` (or the ``slipway:`` mapping of
``slipway.yaml``) in the working directory or at ``SLIPWAY_CONFIG``, then the default. The environment is
read through :mod:`slipway.core.environment` (nothing else reads ``os.environ``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from slipway.core.environment import CONFIG_NAMES, DEFAULT_HOME, environment
from slipway.core.errors import InvalidInput


@dataclasses.dataclass(frozen=True)
class Settings:
    home: Path = Path(DEFAULT_HOME)
    store_uri: str = ""
    artifacts_uri: str = ""
    server_url: str = ""
    token: str = ""
    # Who embedded mode acts as, and the roles it has when no user row says otherwise.
    user: str = ""
    local_roles: tuple[str, ...] = ("admin",)
    # Remote server: let requests without a token in, with these roles.
    allow_anonymous: bool = False
    anonymous_roles: tuple[str, ...] = ("viewer",)
    bootstrap_token: str = ""
    # A Prometheus scrape token: /metrics of both servers then needs "Authorization: Bearer <it>".
    metrics_token: str = ""
    # Background metric logger bounds.
    metric_batch_size: int = 5000
    metric_flush_seconds: float = 1.0
    # SQLite busy timeout; long enough that writers queue instead of failing.
    sqlite_busy_timeout_s: float = 60.0
    # Every other table of the config file, by name (e.g. "governance", "serving").
    sections: dict[str, Any] = dataclasses.field(default_factory=dict)
    config_path: str = ""

    def section(self, name: str) -> dict[str, Any]:
        value = self.sections.get(name, {})
        return value if isinstance(value, dict) else {}

    @property
    def resolved_store_uri(self) -> str:
        return self.store_uri or f"sqlite:///{(self.home / 'slipway.db').resolve()}"

    @property
    def resolved_artifacts_uri(self) -> str:
        return self.artifacts_uri or str((self.home / "artifacts").resolve())

    @property
    def remote(self) -> bool:
        return bool(self.server_url)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_ENV_SKIP = {"sections", "config_path"}


def _coerce(name: str, value: Any) -> Any:
    field_type = str(_FIELDS[name].type)
    try:
        if field_type == "Path":
            return Path(os.path.expanduser(str(value)))
        if field_type == "bool":
            if isinstance(value, bool):
                return value
            return str(value).strip().lower() in {"1", "true", "yes", "on"}
        if field_type == "int":
            return int(value)
        if field_type == "float":
            return float(value)
        if field_type.startswith("tuple"):
            if isinstance(value, str):
                return tuple(part.strip() for part in value.split(",") if part.strip())
            return tuple(str(part) for part in value)
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"setting {name}={value!r} is not a valid {field_type}") from err
    return str(value)


def _read_config_file(path: Path) -> dict[str, Any]:
    if path.suffix == ".toml":
        import tomllib  # only when there is a config file (quick commands start without it)

        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise InvalidInput(f"cannot read config file {path}: {err}") from err
    else:
        import yaml  # only for a YAML config file (it is slow to import)

        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise InvalidInput(f"cannot read config file {path}: {err}") from err
    if not isinstance(data, dict):
        raise InvalidInput(f"config file {path} must hold a mapping")
    return data


def _find_config_file(explicit: str | None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise InvalidInput(f"config file {explicit} does not exist")
        return path
    for name in CONFIG_NAMES:
        if Path(name).is_file():
            return Path(name)
    return None


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from arguments, environment, config file and defaults."""
    env = environment()
    config_path = _find_config_file(overrides.pop("config_path", None) or env.get("SLIPWAY_CONFIG"))
    file_data = _read_config_file(config_path) if config_path else {}
    file_values = dict(file_data.get("slipway", {}) or {})
    sections = {k: v for k, v in file_data.items() if k != "slipway"}
    values: dict[str, Any] = {}
    for name in _FIELDS:
        if name in _ENV_SKIP:
            continue
        if name in overrides and overrides[name] is not None:
            values[name] = _coerce(name, overrides[name])
        elif f"SLIPWAY_{name.upper()}" in env:
            values[name] = _coerce(name, env[f"SLIPWAY_{name.upper()}"])
        elif name in file_values:
            values[name] = _coerce(name, file_values[name])
    unknown = set(overrides) - set(_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown settings: {', '.join(sorted(unknown))}")
    if config_path and "home" in file_values and "home" not in overrides and "SLIPWAY_HOME" not in env:
        values["home"] = (config_path.parent / values["home"]).resolve()
    if not values.get("user"):
        import getpass

        try:
            values["user"] = getpass.getuser()
        except (KeyError, OSError):
            values["user"] = "local"
    return Settings(**values, sections=sections, config_path=str(config_path or ""))
