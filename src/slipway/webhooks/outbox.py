"""The webhook outbox: queue an event for every subscription in the caller's transaction.

Any domain may call :func:`emit` inside the transaction that makes the change (a registry alias
move, a serving rollback, a monitor alert): the delivery rows commit or roll back with the change,
so an event is never lost to a crash and never sent for a change that did not happen. The
governance dispatcher (``slipway.webhooks.dispatcher``) sends them, with retries.

Event types and the keys of their payloads are :class:`slipway.core.events.WebhookEvent` and
:data:`~slipway.core.events.WEBHOOK_PAYLOAD_KEYS`.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput
from slipway.core.events import WEBHOOK_PAYLOAD_KEYS, WebhookEvent
from slipway.core.ids import new_id
from slipway.store.schema.webhooks import webhook_deliveries, webhooks

EVENT_TYPES: tuple[str, ...] = tuple(WebhookEvent)


def emit(conn: Connection, event_type: WebhookEvent, payload: dict[str, Any]) -> int:
    """Queue ``payload`` for every active webhook subscribed to ``event_type``.

    Args:
        conn: the caller's write transaction (the queue commits with the change).
        event_type: what happened.
        payload: a JSON-able mapping with at least the event's keys in
            :data:`~slipway.core.events.WEBHOOK_PAYLOAD_KEYS`; the delivered body is
            ``{"id", "type", "created_ms", "data": payload}``.

    Returns:
        How many deliveries were queued.

    Raises:
        InvalidInput: an unknown event type, or a payload without the event's keys.
    """
    if event_type not in EVENT_TYPES:
        raise InvalidInput(f"unknown event type {event_type!r}; use one of {', '.join(EVENT_TYPES)}")
    missing = [key for key in WEBHOOK_PAYLOAD_KEYS[WebhookEvent(event_type)] if key not in payload]
    if missing:
        raise InvalidInput(f"a {event_type} event needs the payload keys {missing}")
    kind = WebhookEvent(event_type).value  # stored and sent as the plain string
    subscribed = [
        row.id for row in conn.execute(select(webhooks.c.id, webhooks.c.event_types).where(webhooks.c.active.is_(True)))
        if kind in orjson.loads(row.event_types) or "*" in orjson.loads(row.event_types)
    ]
    if not subscribed:
        return 0
    created = now_ms()
    rows = []
    for webhook_id in subscribed:
        delivery_id = new_id()
        body = {"id": delivery_id, "type": kind, "created_ms": created, "data": payload}
        rows.append({
            "id": delivery_id, "webhook_id": webhook_id, "event_type": kind,
            "payload": orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS).decode(), "status": "pending",
            "attempts": 0, "next_attempt_ms": created, "created_ms": created,
        })
    conn.execute(webhook_deliveries.insert(), rows)
    return len(rows)
