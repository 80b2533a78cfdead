"""A ServiceNow-shaped adapter, so a ticketing system can be the approver of record.

Outbound: a webhook of kind ``servicenow`` turns ``approval.requested`` into
``POST {url}/api/now/table/change_request`` (the Table API shape) and stores the returned
``sys_id`` on the approval request. Inbound: the ticketing system calls
``POST /api/v1/governance/servicenow_callback`` with its service account's token and a body
signed with the webhook's secret; the verdict is recorded as that account's decision.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.core.errors import PermissionDenied
from slipway.core.settings import Settings
from slipway.store.schema.webhooks import webhooks
from slipway.webhooks.secret_box import unseal
from slipway.webhooks.settings import servicenow_settings
from slipway.webhooks.signing import signature_for

TABLE_PATH = "/api/now/table/change_request"


def change_request_url(base_url: str) -> str:
    return base_url.rstrip("/") + TABLE_PATH


def change_request_body(event: dict[str, Any]) -> dict[str, Any]:
    """The change request for an ``approval.requested`` event."""
    data = event["data"]
    ref = f"{data['model']}/{data['version']}"
    return {
        "short_description": f"Approve model {ref} for production",
        "description": f"Slipway approval request {data['request_id']} by {data['requested_by']}: {data['reason']} "
                       f"({data['required']} approval(s) required)",
        "type": "normal", "category": "Model release", "correlation_id": data["request_id"],
        "correlation_display": "slipway", "u_model": data["model"], "u_model_version": str(data["version"]),
    }


def canonical_body(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def sign_callback(secret: str, body: dict[str, Any], timestamp: int | None = None) -> tuple[int, str]:
    """What a ticketing system sends with its callback: (timestamp, signature)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return stamp, signature_for(secret, stamp, canonical_body(body))


def verify_callback(conn: Connection, settings: Settings, body: dict[str, Any], timestamp: int, signature: str,
                    tolerance_s: int = 300) -> None:
    """Raise PermissionDenied unless a ServiceNow webhook's secret signed ``body`` recently."""
    if not isinstance(body, dict) or not isinstance(timestamp, int) or abs(time.time() - timestamp) > tolerance_s:
        raise PermissionDenied("the callback's timestamp is missing or too old; sign it when sending")
    secrets_ = [unseal(settings, r.secret) for r in conn.execute(
        select(webhooks.c.secret).where(webhooks.c.kind == "servicenow", webhooks.c.active.is_(True)))]
    configured = servicenow_settings(settings).callback_secret
    if configured:
        secrets_.append(configured)
    import hmac

    for secret in secrets_:
        if hmac.compare_digest(signature_for(secret, timestamp, canonical_body(body)), str(signature)):
            return
    raise PermissionDenied("the callback's signature does not match any ServiceNow webhook secret "
                           "or [governance.servicenow] callback_secret")
