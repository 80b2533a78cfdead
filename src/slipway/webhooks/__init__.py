"""Webhooks: subscriptions, the outbox every domain emits into inside its transaction, the
dispatcher that sends deliveries with retries, payload signing, and the ServiceNow adapter."""
