"""Ed25519 keys in the formats people already have (OpenSSH ``ssh-ed25519`` public keys,
OpenSSH or PEM private keys), their fingerprints, signing and verifying.

A fingerprint is ``SHA256:`` and the unpadded base64 of the SHA-256 of the key's wire form, the
same string ``ssh-keygen -lf KEY.pub`` prints, so people can compare it by eye.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from slipway.core.errors import InvalidInput

__all__ = ["FileSigner", "fingerprint", "generate_key_files", "parse_public_key", "verify_signature"]


def _openssh_text(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def fingerprint(openssh_text: str) -> str:
    """``SHA256:…`` of an ``ssh-ed25519 AAAA…`` public key (its comment ignored)."""
    blob = base64.b64decode(openssh_text.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def parse_public_key(text: str) -> tuple[str, str]:
    """The canonical ``ssh-ed25519 AAAA…`` text of a public key and its fingerprint.

    Raises:
        InvalidInput: the text is not an Ed25519 public key (RSA and ECDSA keys are refused).
    """
    stripped = text.strip()
    try:
        key = serialization.load_ssh_public_key(stripped.encode())
    except (ValueError, IndexError, TypeError, UnsupportedAlgorithm) as err:  # an unknown key type too
        raise InvalidInput(f"not an OpenSSH public key: {stripped[:40]!r}; give the .pub file of an "
                           "Ed25519 key (ssh-keygen -t ed25519)") from err
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput(f"only Ed25519 keys sign Slipway decisions, not {stripped.split()[0]!r}")
    canonical = _openssh_text(key)
    return canonical, fingerprint(canonical)


class FileSigner:
    """Signs with the private key in a file the user owns (like ``git config user.signingkey``)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(os.path.expanduser(str(path)))
        try:
            data = self.path.read_bytes()
        except OSError as err:
            raise InvalidInput(f"cannot read the signing key {self.path}: {err.strerror}") from err
        key: object
        try:
            if data.lstrip().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----"):
                key = serialization.load_ssh_private_key(data, password=None)
            else:
                key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as err:
            raise InvalidInput(f"the signing key {self.path} is not an unencrypted Ed25519 private key "
                               f"({err})") from err
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput(f"the signing key {self.path} is not an Ed25519 key")
        self._key = key
        self.public_key = _openssh_text(key.public_key())
        self._fingerprint = fingerprint(self.public_key)

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def sign(self, payload: bytes) -> str:
        """The base64 Ed25519 signature of ``payload``."""
        return base64.b64encode(self._key.sign(payload)).decode()


def verify_signature(openssh_text: str, payload: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is the key's signature of ``payload``."""
    try:
        key = serialization.load_ssh_public_key(openssh_text.encode())
        assert isinstance(key, Ed25519PublicKey)
        key.verify(base64.b64decode(signature, validate=True), payload)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError, AssertionError):
        return False
    return True


def generate_key_files(path: str | os.PathLike[str], comment: str = "") -> tuple[Path, str]:
    """Write a new Ed25519 private key to ``path`` (mode 0600, refused if it exists) and its public
    key to ``path.pub``; returns the public key file and the fingerprint."""
    private = Path(os.path.expanduser(str(path)))
    private.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption())
    try:
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as err:
        raise InvalidInput(f"{private} already exists; choose another path or use that key") from err
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    public_text = _openssh_text(key.public_key()) + (f" {comment}" if comment else "")
    public = private.with_name(private.name + ".pub")
    public.write_text(public_text + "\n")
    return public, fingerprint(public_text)
