"""Sending queued webhook deliveries, with retries and exponential backoff.

Deliveries are claimed with a lease (so several dispatchers, in servers or ``slipway governance
webhooks dispatch``, never send one twice at once), sent outside any transaction, then recorded
with one attempt row each. A dispatcher killed mid-send leaves a lease that expires, and the
delivery is retried: delivery is at least once, and receivers de-duplicate on
``X-Slipway-Delivery``. Settings (section ``governance``, key ``webhooks``): ``max_attempts`` (8),
``base_delay_s`` (2), ``max_delay_s`` (3600), ``timeout_s`` (5), ``interval_s`` (1).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
from sqlalchemy import or_, select

from slipway.core.auth import Principal
from slipway.core.clock import now_ms
from slipway.store.context import ServiceContext
from slipway.store.schema.webhooks import webhook_attempts, webhook_deliveries, webhooks
from slipway.webhooks.records import DispatchSummary
from slipway.webhooks.secret_box import unseal
from slipway.webhooks.servicenow import change_request_body, change_request_url
from slipway.webhooks.settings import dispatch_in_server, servicenow_settings, webhook_settings
from slipway.webhooks.signing import DELIVERY_HEADER, EVENT_HEADER, signed_headers

log = logging.getLogger("slipway.webhooks")
LEASE_MS = 60_000


# Governance owns approval requests: a ticket's id is recorded on its request by this function,
# named by path because governance sits above webhooks.
EXTERNAL_REF_RECORDER = "slipway.governance.approvals:record_external_ref"

class Dispatcher:
    """Sends due deliveries. ``run_once`` for a batch; ``start`` for a background thread."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx.as_principal(Principal("webhook-dispatcher", frozenset({"admin"}), "service"))
        conf = webhook_settings(ctx.settings)
        self.max_attempts = conf.max_attempts
        self.base_delay_s = conf.base_delay_s
        self.max_delay_s = conf.max_delay_s
        self.timeout_s = conf.timeout_s
        self.interval_s = conf.interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def backoff_ms(self, attempts: int) -> int:
        return int(min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempts - 1)) * 1000)

    def _due_exists(self, now: int) -> bool:
        # A read first, so an idle dispatcher never takes SQLite's write lock.
        with self.ctx.db.read() as conn:
            return conn.execute(select(webhook_deliveries.c.id).where(
                webhook_deliveries.c.status == "pending", webhook_deliveries.c.next_attempt_ms <= now,
                or_(webhook_deliveries.c.lease_until_ms.is_(None), webhook_deliveries.c.lease_until_ms < now)).limit(1)).first() is not None

    def _claim(self, limit: int) -> list[Any]:
        now = now_ms()
        if not self._due_exists(now):
            return []
        with self.ctx.db.write() as conn:
            query = (
                select(webhook_deliveries.c.id, webhook_deliveries.c.payload, webhook_deliveries.c.attempts,
                       webhook_deliveries.c.event_type, webhooks.c.url, webhooks.c.kind, webhooks.c.secret)
                .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
                .where(webhook_deliveries.c.status == "pending", webhook_deliveries.c.next_attempt_ms <= now,
                       or_(webhook_deliveries.c.lease_until_ms.is_(None), webhook_deliveries.c.lease_until_ms < now))
                .order_by(webhook_deliveries.c.next_attempt_ms).limit(limit)
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=webhook_deliveries)
            rows = list(conn.execute(query).all())
            if rows:
                conn.execute(webhook_deliveries.update().where(webhook_deliveries.c.id.in_([r.id for r in rows]))
                             .values(lease_until_ms=now + LEASE_MS))
            return rows

    def _send(self, client: httpx.Client, row: Any) -> tuple[int | None, str | None, bytes]:
        event = orjson.loads(row.payload)
        auth = None
        if row.kind == "servicenow":
            body, url = orjson.dumps(change_request_body(event)), change_request_url(row.url)
            # The Table API takes basic auth; the credentials live in settings, never in the database.
            creds = servicenow_settings(self.ctx.settings)
            if creds.username:
                auth = httpx.BasicAuth(creds.username, creds.password)
        else:
            body, url = row.payload.encode(), row.url
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "slipway-webhooks/1",
                   DELIVERY_HEADER: row.id, EVENT_HEADER: row.event_type, **signed_headers(unseal(self.ctx.settings, row.secret), body)}
        try:
            response = client.post(url, content=body, headers=headers, auth=auth) if auth else \
                client.post(url, content=body, headers=headers)
        except httpx.HTTPError as err:
            return None, f"{type(err).__name__}: {err}"[:500], b""
        error = None if response.is_success else f"HTTP {response.status_code}: {response.text[:200]}"
        return response.status_code, error, response.content

    def _record(self, row: Any, code: int | None, error: str | None, content: bytes, started: float) -> str:
        attempts = row.attempts + 1
        now = now_ms()
        permanent = code is not None and 400 <= code < 500 and code not in (408, 429)
        if error is None:
            status, next_ms = "delivered", now
        elif permanent or attempts >= self.max_attempts:
            status, next_ms = "failed", now
        else:
            status, next_ms = "pending", now + self.backoff_ms(attempts)
        with self.ctx.db.write() as conn:
            conn.execute(webhook_deliveries.update().where(webhook_deliveries.c.id == row.id).values(
                status=status, attempts=attempts, last_status_code=code, last_error=error, next_attempt_ms=next_ms,
                lease_until_ms=None, delivered_ms=now if status == "delivered" else None))
            conn.execute(webhook_attempts.insert().values(
                delivery_id=row.id, attempt=attempts, ts=now, status_code=code, error=error,
                duration_ms=int((time.perf_counter() - started) * 1000)))
            if status == "delivered" and row.kind == "servicenow":
                self._store_change_ref(conn, row, content)
        return status

    def _store_change_ref(self, conn: Any, row: Any, content: bytes) -> None:
        try:
            result = orjson.loads(content).get("result", {})
            sys_id = str(result.get("sys_id") or "")
        except (orjson.JSONDecodeError, AttributeError):
            return
        request_id = orjson.loads(row.payload)["data"]["request_id"]
        if sys_id:
            module, _, name = EXTERNAL_REF_RECORDER.partition(":")
            getattr(importlib.import_module(module), name)(self.ctx, conn, request_id, "servicenow", sys_id,
                                                           result.get("number"))

    def run_once(self, limit: int = 100) -> DispatchSummary:
        """Send every delivery that is due (up to ``limit``) once."""
        rows = self._claim(limit)
        counts = {"delivered": 0, "failed": 0, "pending": 0}
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            for row in rows:
                started = time.perf_counter()
                code, error, content = self._send(client, row)
                counts[self._record(row, code, error, content, started)] += 1
        return DispatchSummary(len(rows), counts["delivered"], counts["failed"], counts["pending"])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="slipway-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # keep the server's dispatcher alive through a store hiccup
                log.exception("webhook dispatch failed; retrying")
            self._stop.wait(self.interval_s)


def dispatcher_lifespan(ctx: ServiceContext, inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap an ASGI app's lifespan so a background dispatcher runs while the server does."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        dispatcher = None
        if dispatch_in_server(ctx.settings):
            dispatcher = Dispatcher(ctx)
            dispatcher.start()
        try:
            async with inner(app) as state:
                yield state
        finally:
            if dispatcher is not None:
                dispatcher.stop()

    return lifespan
