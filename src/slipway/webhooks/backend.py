"""Governance endpoints for webhook subscriptions, the delivery log and dispatching."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import NotFound
from slipway.core.events import Action, Subject
from slipway.core.ids import new_id
from slipway.store.context import ServiceContext
from slipway.store.schema.webhooks import webhooks
from slipway.webhooks.dispatcher import Dispatcher
from slipway.webhooks.records import Delivery, DispatchSummary, Webhook, WebhookAdded
from slipway.webhooks.secret_box import seal
from slipway.webhooks.subscriptions import check_subscription, list_deliveries, redact_url, webhook_record


class WebhookEndpoints:
    ctx: ServiceContext

    @endpoint("admin")
    def add_webhook(self, url: str, event_types: list[str], kind: str = "generic", secret: str | None = None) -> WebhookAdded:
        """Subscribe ``url`` to ``event_types``. Returns the webhook and its signing secret (shown once)."""
        types, secret = check_subscription(url, list(event_types), kind, secret)
        with self.ctx.db.write() as conn:
            webhook_id = new_id()
            conn.execute(webhooks.insert().values(id=webhook_id, url=url, kind=kind, event_types=orjson.dumps(types).decode(),
                                                  secret=seal(self.ctx.settings, secret), active=True,
                                                  created_by=self.ctx.principal.name, created_ms=now_ms()))
            self.ctx.audit(conn, Action.WEBHOOK_ADD, Subject.WEBHOOK, webhook_id,
                           {"url": redact_url(url), "kind": kind, "event_types": types})
            row = conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)).one()
            return {"webhook": webhook_record(row), "secret": secret}

    @endpoint("admin")
    def set_webhook_active(self, webhook_id: str, active: bool) -> Webhook:
        with self.ctx.db.write() as conn:
            if conn.execute(webhooks.update().where(webhooks.c.id == webhook_id).values(active=bool(active))).rowcount != 1:
                raise NotFound(f"webhook {webhook_id!r} does not exist")
            self.ctx.audit(conn, Action.WEBHOOK_SET_ACTIVE, Subject.WEBHOOK, webhook_id, {"active": bool(active)})
            return webhook_record(conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)).one())

    @endpoint("read")
    def list_webhooks(self) -> list[Webhook]:
        """Subscriptions, with URLs redacted to ``scheme://host/…`` and no secret."""
        with self.ctx.db.read() as conn:
            return [webhook_record(r) for r in conn.execute(select(webhooks).order_by(webhooks.c.created_ms))]

    @endpoint("read")
    def deliveries(self, webhook_id: str | None = None, status: str | None = None, limit: int = 100) -> list[Delivery]:
        """The delivery log, newest first: status, attempts with status codes and errors, next retry."""
        with self.ctx.db.read() as conn:
            return list_deliveries(conn, webhook_id, status, limit)

    @endpoint("admin")
    def dispatch(self, limit: int = 100) -> DispatchSummary:
        """Send the deliveries that are due now (what the server's background dispatcher does)."""
        return Dispatcher(self.ctx).run_once(max(1, min(int(limit), 10_000)))
