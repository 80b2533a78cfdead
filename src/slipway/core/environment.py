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


def os_user() -> str:
    """The operating-system account this process runs as, from the process's user id (not from
    ``$USER`` or ``$LOGNAME``, which anyone can set); the login name where there is no ``pwd``."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        import getpass

        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return "local"


def fast_paths_default() -> bool:
    """False when ``SLIPWAY_FAST_PATHS`` turns the fast paths off (``0``, ``false``, ``no``,
    ``off``), as the ``fast_paths`` setting reads it; see :mod:`slipway.core.fastpaths`."""
    value = os.environ.get("SLIPWAY_FAST_PATHS")
    return value is None or value.strip().lower() in {"1", "true", "yes", "on"}


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
