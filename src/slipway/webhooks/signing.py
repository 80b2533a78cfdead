"""Signing webhook payloads, and verifying them on the receiving side.

The signature is HMAC-SHA256 over ``"{timestamp}.{body}"`` with the subscription's secret, sent as
``X-Slipway-Signature: sha256=<hex>`` with ``X-Slipway-Timestamp: <unix seconds>``. Receivers
should reject timestamps older than a few minutes (replays) and compare in constant time::

    from slipway.webhooks.signing import verify_signature
    ok = verify_signature(secret, request.headers, await request.body())
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from slipway.core.limits import whole_number

SIGNATURE_HEADER = "X-Slipway-Signature"
TIMESTAMP_HEADER = "X-Slipway-Timestamp"
DELIVERY_HEADER = "X-Slipway-Delivery"
EVENT_HEADER = "X-Slipway-Event"


def signature_for(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {SIGNATURE_HEADER: signature_for(secret, stamp, body), TIMESTAMP_HEADER: str(stamp)}


def verify_signature(secret: str, headers: Mapping[str, str], body: bytes, tolerance_s: int = 300) -> bool:
    """True if ``body`` was signed with ``secret`` within ``tolerance_s`` seconds."""
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    if whole_number(stamp) is None or abs(time.time() - int(stamp)) > tolerance_s:
        return False
    return hmac.compare_digest(signature_for(secret, int(stamp), body), given)
