"""Webhook subscriptions, the delivery log, and :func:`emit` for other domains.

``emit(conn, event_type, payload)`` (from :mod:`slipway.webhooks.outbox`, re-exported here) queues a
signed delivery for every subscription in the caller's transaction; the dispatcher sends them.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlparse

import orjson
from sqlalchemy import Connection, select

from slipway.core.errors import InvalidInput, NotFound
from slipway.store.schema.webhooks import webhook_attempts, webhook_deliveries, webhooks
from slipway.webhooks.outbox import EVENT_TYPES, emit
from slipway.webhooks.records import Delivery, DeliveryAttempt, Webhook

__all__ = ["EVENT_TYPES", "check_subscription", "emit", "list_deliveries", "redact_url", "webhook_record"]

# Longest secret a caller may choose: sealed, it must fit the column (String(200)).
MAX_SECRET = 72


def check_subscription(url: str, event_types: list[str], kind: str, secret: str | None) -> tuple[list[str], str]:
    """Validate a subscription; returns (event types, secret), minting a secret if none was given."""
    parsed = urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(f"webhook url {url!r} must be an absolute http(s) URL")
    if kind not in ("generic", "servicenow"):
        raise InvalidInput(f"webhook kind must be 'generic' or 'servicenow', not {kind!r}")
    types = sorted(set(event_types or []))
    unknown = [t for t in types if t not in EVENT_TYPES and t != "*"]
    if not types or unknown:
        raise InvalidInput(f"unknown event types {unknown or types}; use {', '.join(EVENT_TYPES)} or '*'")
    if secret is not None and not 16 <= len(secret) <= MAX_SECRET:
        raise InvalidInput(f"a webhook secret must be 16 to {MAX_SECRET} characters, not {len(secret)}")
    return types, secret or secrets.token_hex(32)


def redact_url(url: str) -> str:
    """``scheme://host/…``: a webhook URL's path and query often are its credential (Slack, Teams)."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    port = f":{parsed.port}" if parsed.port else ""
    rest = "/…" if (parsed.path not in ("", "/") or parsed.query) else ""
    return f"{parsed.scheme}://{host}{port}{rest}"


def webhook_record(row: Any) -> Webhook:
    """A subscription as listings show it: URL redacted, the secret never (it was shown once)."""
    return Webhook(row.id, redact_url(row.url), row.kind, orjson.loads(row.event_types), bool(row.active),
                   row.created_by, row.created_ms, "sealed" if str(row.secret).startswith("fernet:") else "…")


def list_deliveries(conn: Connection, webhook_id: str | None, status: str | None, limit: int) -> list[Delivery]:
    query = select(webhook_deliveries)
    if webhook_id:
        if conn.execute(select(webhooks.c.id).where(webhooks.c.id == webhook_id)).first() is None:
            raise NotFound(f"webhook {webhook_id!r} does not exist")
        query = query.where(webhook_deliveries.c.webhook_id == webhook_id)
    if status:
        query = query.where(webhook_deliveries.c.status == status)
    rows = conn.execute(query.order_by(webhook_deliveries.c.created_ms.desc()).limit(max(1, min(limit, 10_000)))).all()
    attempts: dict[str, list[DeliveryAttempt]] = {}
    ids = [r.id for r in rows]
    for start in range(0, len(ids), 500):
        for a in conn.execute(select(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(ids[start:start + 500]))
                              .order_by(webhook_attempts.c.attempt)):
            attempts.setdefault(a.delivery_id, []).append(DeliveryAttempt(a.attempt, a.ts, a.status_code, a.error, a.duration_ms))
    return [Delivery(r.id, r.webhook_id, r.event_type, r.status, r.attempts, r.last_status_code, r.last_error,
                     r.next_attempt_ms, r.created_ms, r.delivered_ms, attempts.get(r.id, [])) for r in rows]
