"""BLAKE3 content hashing. A digest is 64 lowercase hex characters."""

from __future__ import annotations

import os
import re
from typing import BinaryIO

import blake3

from slipway.core.errors import InvalidInput

DIGEST_RE = re.compile(r"[0-9a-f]{64}")  # use fullmatch: "$" would accept a trailing newline
CHUNK = 4 * 1024 * 1024
# Files above this size are hashed with BLAKE3's own threads (it releases the GIL).
MULTITHREAD_THRESHOLD = 64 * 1024 * 1024


def hash_bytes(data: bytes | memoryview) -> str:
    return blake3.blake3(data).hexdigest()


def hash_stream(stream: BinaryIO) -> str:
    hasher = blake3.blake3()
    while chunk := stream.read(CHUNK):
        hasher.update(chunk)
    return hasher.hexdigest()


def hash_file(path: str | os.PathLike[str]) -> str:
    """Hash a file; large files are memory-mapped and hashed on all cores."""
    size = os.path.getsize(path)
    if size >= MULTITHREAD_THRESHOLD:
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        hasher.update_mmap(os.fspath(path))
        return hasher.hexdigest()
    with open(path, "rb") as handle:
        return hash_stream(handle)


def check_digest(value: str) -> str:
    """Return ``value`` if it is a well-formed digest, else raise InvalidInput."""
    if not isinstance(value, str) or not DIGEST_RE.fullmatch(value):
        raise InvalidInput(f"not a BLAKE3 digest: {value!r} (expected 64 lowercase hex characters)")
    return value
