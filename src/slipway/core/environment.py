"""The process environment, read in one place (with :mod:`slipway.core.settings`, its only user
besides the quick commands).

:func:`plain_home` answers the one question the fastest command (``slipway data status`` against
a watched folder) needs, without the settings machinery (dataclasses, pathlib): where the home
is when no config file can change it.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

CONFIG_NAMES = ("slipway.toml", "slipway.yaml", "slipway.yml")
DEFAULT_HOME = ".slipway"


def environment() -> Mapping[str, str]:
    """The process environment (``SLIPWAY_*`` variables are the settings' second source)."""
    return os.environ


STORE_VARIABLES = ("SLIPWAY_STORE_URI", "SLIPWAY_ARTIFACTS_URI", "SLIPWAY_SERVER_URL")


def plain_home() -> str | None:
    """``SLIPWAY_HOME`` or the default, exactly as :func:`slipway.core.settings.load_settings`
    would resolve it, when the stores are the defaults inside it; None when a config file exists
    or a store is set elsewhere (then load the settings)."""
    env = environment()
    if "SLIPWAY_CONFIG" in env or any(v in env for v in STORE_VARIABLES) or any(
            os.path.isfile(name) for name in CONFIG_NAMES):
        return None
    return os.path.expanduser(env.get("SLIPWAY_HOME", DEFAULT_HOME))
