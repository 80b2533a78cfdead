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

from slipway.core.environment import CONFIG_NAMES, DEFAULT_HOME, environment, os_user
from slipway.core.errors import InvalidInput


@dataclasses.dataclass(frozen=True)
class Settings:
    home: Path = Path(DEFAULT_HOME)
    store_uri: str = ""
    artifacts_uri: str = ""
    server_url: str = ""
    token: str = ""
    # Who embedded mode acts as: the operating-system user unless this names another user AND
    # ``signing_key`` is a key registered to that user (docs/governance.md, "Identity").
    user: str = ""
    # The roles the first operating-system user to open a new embedded store is enrolled with
    # (bootstrap). An unregistered user never gets a role.
    local_roles: tuple[str, ...] = ("admin",)
    # A private Ed25519 key (OpenSSH or PEM file, e.g. ~/.ssh/id_ed25519) that signs approvals,
    # rejections and protected-alias moves made in embedded mode; kept outside SLIPWAY_HOME.
    signing_key: str = ""
    # The project new experiments, datasets, models, deployments and monitors go to when a call
    # names none (SLIPWAY_PROJECT, `--project`, `slipway.connect(project=…)`).
    project: str = "default"
    # How long a server trusts a token it checked; revocation on the same server is immediate.
    auth_cache_seconds: float = 5.0
    # Remote server: let requests without a token in, with these roles.
    allow_anonymous: bool = False
    anonymous_roles: tuple[str, ...] = ("viewer",)
    bootstrap_token: str = ""
    # A Prometheus scrape token: /metrics of both servers then needs "Authorization: Bearer <it>".
    metrics_token: str = ""
    # Background metric logger: batch size, flush timer, and the bound on unwritten points (at it,
    # log_metric waits for a write). Durable: every point goes to a local spool file first.
    metric_batch_size: int = 5000
    metric_flush_seconds: float = 0.2
    metric_buffer_max: int = 100_000
    metric_durable: bool = False
    # Runs send a heartbeat this often; a RUNNING run silent for run_stale_seconds is reaped as FAILED.
    run_heartbeat_seconds: float = 30.0
    run_stale_seconds: float = 300.0
    # Platform server: the largest JSON request body and the largest blob upload it reads (413 past them).
    max_request_bytes: int = 64 * 1024 * 1024
    max_upload_bytes: int = 5 * 1024**3
    # SQLite busy timeout; long enough that writers queue instead of failing.
    sqlite_busy_timeout_s: float = 60.0
    # Set by `slipway models reproduce --run` for the re-run: a dataset named without a version
    # resolves to the version pinned here ("name@3"), and runs are tagged as reproductions of this run.
    dataset_pins: tuple[str, ...] = ()
    reproduces: str = ""
    # The start-up and hot-path shortcuts (slipway.core.fastpaths); false runs only the normal paths.
    fast_paths: bool = True
    # The feature store's online store: empty (a SQLite file under home), sqlite:///PATH or redis://HOST:PORT/DB.
    online_store: str = ""
    # Every other table of the config file, by name (e.g. "governance", "serving"), as written;
    # each is declared and typed by its domain (slipway.core.sections) and read through domain().
    sections: dict[str, Any] = dataclasses.field(default_factory=dict)
    config_path: str = ""
    _typed: dict[str, Any] = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)

    def section(self, name: str) -> dict[str, Any]:
        """The table ``name`` as written (untyped); domain code reads :meth:`domain` instead."""
        value = self.sections.get(name, {})
        return value if isinstance(value, dict) else {}

    def domain(self, name: str) -> Any:
        """The typed settings of table ``name`` (e.g. ``GovernanceSettings``), defaults filled in.

        Raises:
            InvalidInput: an unknown table, key or a value of the wrong type.
        """
        if name not in self._typed:
            from slipway.core.sections import parse_section

            self._typed[name] = parse_section(name, self.sections.get(name) or {})
        return self._typed[name]

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
_ENV_SKIP = {"sections", "config_path", "_typed"}


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


def _check_file_value(path: Path, name: str, value: Any) -> Any:
    """A value from the config file must already have its setting's type (a file is typed text:
    ``home = 5`` is a mistake, not a folder named 5)."""
    field_type = str(_FIELDS[name].type)
    expected: tuple[type, ...] = {"Path": (str,), "str": (str,), "bool": (bool,), "int": (int,),
                                  "float": (int, float)}.get(field_type, (str, list))
    if (isinstance(value, bool) and bool not in expected) or not isinstance(value, expected):
        kind = {"Path": "a folder path in quotes", "str": "text in quotes", "bool": "true or false",
                "int": "a whole number", "float": "a number"}.get(field_type, "a list of names")
        raise InvalidInput(f"{path}: [slipway] {name} = {value!r} must be {kind}")
    if field_type.startswith("tuple") and isinstance(value, list) and not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{path}: [slipway] {name} must be a list of names, got {value!r}")
    return value


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
    file_values = file_data.get("slipway", {}) or {}
    if not isinstance(file_values, dict):
        raise InvalidInput(f"{config_path}: [slipway] must be a table of settings")
    unknown_keys = set(file_values) - (set(_FIELDS) - _ENV_SKIP)
    if unknown_keys:
        raise InvalidInput(f"{config_path}: unknown [slipway] settings {', '.join(sorted(unknown_keys))}; known: "
                           f"{', '.join(sorted(set(_FIELDS) - _ENV_SKIP))}")
    file_values = {k: _check_file_value(config_path, k, v) for k, v in file_values.items()} if config_path else {}
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
        values["user"] = os_user()
    settings = Settings(**values, sections=sections, config_path=str(config_path or ""))
    for name in sections:  # every table is checked once, here (an unknown key is refused at start)
        try:
            settings.domain(name)
        except InvalidInput as err:
            raise InvalidInput(f"{config_path}: {err.message}") from err
    return settings
