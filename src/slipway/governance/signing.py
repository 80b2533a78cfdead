"""HMAC-SHA256 signing with a server secret, for policy check results.

The secret comes from the ``governance.signing_secret`` setting, else from
``$SLIPWAY_HOME/governance-secret`` (created once, mode 0600). Anyone holding the database but
not the secret cannot forge a passing check result.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any

import orjson

from slipway.core.secrets_file import home_secret
from slipway.core.settings import Settings
from slipway.governance.settings import governance_settings


def signing_secret(settings: Settings) -> bytes:
    configured = governance_settings(settings).signing_secret
    if configured:
        return str(configured).encode()
    return home_secret(Path(settings.home) / "governance-secret", lambda: secrets.token_hex(32).encode())


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def sign(secret: bytes, value: Any) -> str:
    return hmac.new(secret, canonical(value), hashlib.sha256).hexdigest()


def verify(secret: bytes, value: Any, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, value), signature)
