"""The Prometheus scrape token: ``/metrics`` of both servers answers only ``Authorization: Bearer
<metrics_token>`` when the ``metrics_token`` setting (``SLIPWAY_METRICS_TOKEN``) is set."""

from __future__ import annotations

import hmac


def scrape_allowed(authorization: str | None, token: str) -> bool:
    """Whether a request with this ``Authorization`` header may read ``/metrics``.

    Args:
        authorization: the header's value, or None when absent.
        token: the configured scrape token; empty means ``/metrics`` is open.
    """
    if not token:
        return True
    if authorization is None:
        return False
    scheme, _, given = authorization.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
