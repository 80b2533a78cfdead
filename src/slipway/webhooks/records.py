"""The records webhook endpoints return (they cross the HTTP boundary in remote mode)."""

from __future__ import annotations

from typing import TypedDict

from slipway.core.records import record


@record
class Webhook:
    id: str
    url: str
    kind: str
    event_types: list[str]
    active: bool
    created_by: str
    created_ms: int
    secret_hint: str


@record
class DeliveryAttempt:
    attempt: int
    ts: int
    status_code: int | None
    error: str | None
    duration_ms: int


@record
class Delivery:
    id: str
    webhook_id: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_ms: int
    created_ms: int
    delivered_ms: int | None
    log: list[DeliveryAttempt]


@record
class DispatchSummary:
    attempted: int
    delivered: int
    failed: int
    retrying: int



class WebhookAdded(TypedDict):
    """A new subscription and its signing secret (shown this once)."""

    webhook: Webhook
    secret: str
