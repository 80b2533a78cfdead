"""HMAC-SHA256 signing with a server secret, for policy check results.

The secret comes from the ``governance.signing_secret`` setting, else from
``$SLIPWAY_HOME/governance-secret`` (created once, mode 0600). Anyone holding the database but
not the secret cannot forge a passing check result.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

import orjson

from slipway.core.settings import Settings
from slipway.governance.settings import governance_settings


def signing_secret(settings: Settings) -> bytes:
    configured = governance_settings(settings).signing_secret
    if configured:
        return str(configured).encode()
    path = Path(settings.home) / "governance-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting together agree on one secret.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
                handle.flush()
                os.fsync(handle.fileno())
        except FileExistsError:
            pass
    value = path.read_text().strip()
    if not value:  # a creator was killed between create and write; any reader repairs it
        path.unlink(missing_ok=True)
        return signing_secret(settings)
    return value.encode()


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def sign(secret: bytes, value: Any) -> str:
    return hmac.new(secret, canonical(value), hashlib.sha256).hexdigest()


def verify(secret: bytes, value: Any, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, value), signature)
