"""The checkpoint signing key: an Ed25519 key in a file outside the metadata store.

Configured in ``slipway.toml``::

    [audit]
    signing_key = "/etc/slipway/audit-signing.pem"     # private, mode 0600, on the signing host only
    public_key = "/etc/slipway/audit-signing.pub.pem"  # what verifiers and regulators get
    checkpoints = ["/mnt/worm/slipway-checkpoints", "s3://audit-bucket/checkpoints"]
    origin = "acme-slipway-prod"                       # names this ledger inside every checkpoint
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from slipway.audit.settings import audit_settings
from slipway.core.errors import AlreadyExists, InvalidInput
from slipway.core.settings import Settings
from slipway.core.transparency import ProofError, load_public_key


def origin(settings: Settings) -> str:
    return audit_settings(settings).origin or "slipway"


def destinations(settings: Settings) -> list[str]:
    """Where checkpoints are published (``[audit] checkpoints``: one location or a list)."""
    value = audit_settings(settings).checkpoints
    return [value] if isinstance(value, str) and value else list(value) if not isinstance(value, str) else []


def generate_key(path: Path) -> Path:
    """Write a new private key to ``path`` (mode 0600, never overwriting) and its public key to
    ``path`` + ``.pub``; returns the public key's path."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as err:
        raise AlreadyExists(f"{path} already exists; a signing key is never overwritten") from err
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = Path(f"{path}.pub")
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return public


def load_signing_key(settings: Settings, path: str | None = None) -> Ed25519PrivateKey:
    """The configured private key. Refused when missing, not Ed25519, or readable by others."""
    chosen = path or audit_settings(settings).signing_key
    if not chosen:
        raise InvalidInput("no checkpoint signing key: set [audit] signing_key in slipway.toml to a key made with "
                           "'slipway audit keygen PATH' (keep it outside the store)")
    key_path = Path(str(chosen)).expanduser()
    try:
        mode = key_path.stat().st_mode
        data = key_path.read_bytes()
    except OSError as err:
        raise InvalidInput(f"cannot read the audit signing key {key_path}: {err.strerror}") from err
    if mode & 0o077:
        raise InvalidInput(f"the audit signing key {key_path} is readable by other users; run chmod 600 {key_path}")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise InvalidInput(f"{key_path} is not an unencrypted PEM private key: {err}") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{key_path} holds a {type(key).__name__}; checkpoints are signed with Ed25519")
    return key


def load_verify_key(settings: Settings, pem: str | None = None) -> Ed25519PublicKey | None:
    """The key checkpoints are checked with: ``pem`` if given, else ``[audit] public_key``, else the
    public half of ``[audit] signing_key``; None when none is configured."""
    try:
        if pem:
            return load_public_key(pem)
        configured = audit_settings(settings).public_key
        if configured:
            return load_public_key(Path(str(configured)).expanduser().read_bytes())
    except OSError as err:
        raise InvalidInput(f"cannot read the audit public key {configured}: {err.strerror}") from err
    except ProofError as err:
        raise InvalidInput(f"the audit public key is not usable: {err}") from err
    if audit_settings(settings).signing_key:
        return load_signing_key(settings).public_key()
    return None
