"""The digest of a model version's snapshot columns, as the registration event records it."""

from __future__ import annotations

from slipway.core.hashing import hash_bytes


def snapshot_digest(signature: str, metrics: str, params: str, datasets: str) -> str:
    """BLAKE3 over the four JSON columns exactly as stored, so any later edit of one changes it."""
    return hash_bytes("\n".join((signature, metrics, params, datasets)).encode())
