"""Webhook secrets at rest: sealed with a key that is not in the metadata database.

The key (Fernet: AES-128-CBC with HMAC-SHA256) comes from the ``governance.secrets_key`` setting
(e.g. injected from a secret manager), else from ``$SLIPWAY_HOME/secrets-key``, created once with
mode 0600. A copy of the database alone (a backup, a dump, a read-only replica) does not reveal any
secret; someone who can also read the key file can. Rows written before sealing existed hold the
secret in plain text and are read as such until the webhook is re-created.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from slipway.core.errors import InvalidInput
from slipway.core.secrets_file import home_secret
from slipway.core.settings import Settings
from slipway.webhooks.settings import secrets_key

PREFIX = "fernet:"


def _key(settings: Settings) -> bytes:
    configured = secrets_key(settings)
    if configured:
        return str(configured).encode()
    return home_secret(Path(settings.home) / "secrets-key", Fernet.generate_key)


def _fernet(settings: Settings) -> Fernet:
    try:
        return Fernet(_key(settings))
    except ValueError as err:
        raise InvalidInput("governance.secrets_key must be a Fernet key (32 url-safe base64-encoded bytes)") from err


def seal(settings: Settings, secret: str) -> str:
    """The text to store for ``secret``."""
    return PREFIX + _fernet(settings).encrypt(secret.encode()).decode()


def unseal(settings: Settings, stored: str) -> str:
    """The secret behind a stored value (plain text from before sealing is returned as is).

    Raises:
        InvalidInput: the value was sealed with another key (the key file was replaced or lost).
    """
    if not stored.startswith(PREFIX):
        return stored
    try:
        return _fernet(settings).decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken as err:
        raise InvalidInput("a webhook secret was sealed with another key than governance.secrets_key / "
                           "$SLIPWAY_HOME/secrets-key; restore that key or re-create the webhook") from err
