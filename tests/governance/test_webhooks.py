"""Signed webhook deliveries to a real loopback receiver, retries with backoff, the outbox, and
the ServiceNow-shaped adapter with its signed callback."""

from __future__ import annotations

import base64
import time

import orjson
import pytest

from slipway.core.errors import InvalidInput, PermissionDenied
from slipway.core.events import WebhookEvent
from slipway.webhooks.outbox import emit
from slipway.webhooks.servicenow import sign_callback
from slipway.webhooks.signing import verify_signature
from tests.governance.credit import register_credit
from tests.governance.receiver import Receiver
from tests.support import free_port


def _db(ws):  # type: ignore[no-untyped-def]
    return ws._transport.db


def test_deliveries_are_signed_and_verifiable(people) -> None:  # type: ignore[no-untyped-def]
    admin = people()
    with Receiver() as receiver:
        added = admin.governance.add_webhook(receiver.url, ["approval.requested", "alias.moved"])
        secret = added["secret"]
        version, _ = register_credit(admin, "credit", mitigated=True)
        request = admin.governance.request_approval(f"credit/{version}", "first release")
        summary = admin.governance.dispatch()
        assert summary.delivered == 1 and summary.attempted == 1
        (_path, headers, body), = receiver.received
        assert verify_signature(secret, headers, body)
        assert not verify_signature(secret, headers, body.replace(b"first", b"forged"))
        assert not verify_signature("x" * 32, headers, body)
        event = orjson.loads(body)
        assert event["type"] == "approval.requested" and event["data"]["request_id"] == request.id
        assert headers["X-Slipway-Event"] == "approval.requested" and headers["X-Slipway-Delivery"] == event["id"]
    log = admin.governance.deliveries(added["webhook"].id)
    assert log[0].status == "delivered" and log[0].log[0].status_code == 200
    assert admin.governance.dispatch().attempted == 0  # nothing is sent twice


def test_receiver_down_gets_retries_with_backoff_in_the_log(people) -> None:  # type: ignore[no-untyped-def]
    admin = people()
    hook = admin.governance.add_webhook(f"http://127.0.0.1:{free_port()}/hook", ["alert"])["webhook"]
    with _db(admin).write() as conn:
        assert emit(conn, WebhookEvent.ALERT, {"alert": "a1", "monitor": "credit-drift", "check": "drift", "run": "r1", "summary": "drifted"}) == 1
    for _ in range(3):
        admin.governance.dispatch()
        time.sleep(0.25)
    (delivery,) = admin.governance.deliveries(hook.id)
    assert delivery.status == "failed" and delivery.attempts == 3
    assert [a.attempt for a in delivery.log] == [1, 2, 3]
    assert all(a.status_code is None and "Connect" in (a.error or "") for a in delivery.log)
    gaps = [b.ts - a.ts for a, b in zip(delivery.log, delivery.log[1:], strict=False)]
    assert all(gap >= 50 for gap in gaps)  # base_delay 0.05 s, doubling


def test_server_error_is_retried_until_the_receiver_recovers(people) -> None:  # type: ignore[no-untyped-def]
    admin = people()
    with Receiver(status=503) as receiver:
        hook = admin.governance.add_webhook(receiver.url, ["*"])["webhook"]
        with _db(admin).write() as conn:
            emit(conn, WebhookEvent.DEPLOYMENT_ROLLED_BACK, {"deployment": "credit-prod", "model": "credit", "version": 1})
        assert admin.governance.dispatch().retrying == 1
        receiver.status = 200
        time.sleep(0.1)
        assert admin.governance.dispatch().delivered == 1
    (delivery,) = admin.governance.deliveries(hook.id)
    assert [a.status_code for a in delivery.log] == [503, 200] and delivery.status == "delivered"


def test_outbox_rolls_back_with_the_change(people) -> None:  # type: ignore[no-untyped-def]
    admin = people()
    hook = admin.governance.add_webhook("http://127.0.0.1:9/never", ["alert"])["webhook"]
    with pytest.raises(RuntimeError), _db(admin).write() as conn:
        emit(conn, WebhookEvent.ALERT, {"alert": "a1", "monitor": "m", "check": "c", "run": "r", "summary": ""})
        raise RuntimeError("the change failed")
    assert admin.governance.deliveries(hook.id) == []
    with pytest.raises(InvalidInput, match="unknown event type"), _db(admin).write() as conn:
        emit(conn, "model.exploded", {})
    with pytest.raises(InvalidInput, match="absolute http"):
        admin.governance.add_webhook("file:///etc/passwd", ["alert"])
    with pytest.raises(InvalidInput, match="unknown event types"):
        admin.governance.add_webhook("http://127.0.0.1:9/", ["approval.requested", "nope"])
    assert len(admin.governance.list_webhooks()) == 1


def test_servicenow_change_request_and_signed_callback(people) -> None:  # type: ignore[no-untyped-def]
    admin = people()
    admin.identity.create_user("servicenow", ["approver"], kind="service")
    with Receiver() as snow:
        secret = admin.governance.add_webhook(snow.url, ["approval.requested"], kind="servicenow")["secret"]
        version, _ = register_credit(admin, "credit", mitigated=True)
        request = admin.governance.request_approval(f"credit/{version}", "release via CAB")
        admin.governance.dispatch()
        (path, headers, body), = snow.received
    assert path == "/api/now/table/change_request" and verify_signature(secret, headers, body)
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"slipway-integration:s3cret-pw").decode()
    change = orjson.loads(body)
    assert change["correlation_id"] == request.id and "credit/1" in change["short_description"]
    sys_id = admin.governance.get_request(request.id).external_ref
    assert sys_id == "chg00000001"

    ticketing = people("servicenow")
    verdict = {"correlation_id": request.id, "sys_id": sys_id, "approval": "approved", "comments": "CAB approved"}
    stamp, signature = sign_callback(secret, verdict)
    with pytest.raises(PermissionDenied, match="signature"):
        ticketing.governance.servicenow_callback({**verdict, "comments": "forged"}, stamp, signature)
    assert admin.governance.get_request(request.id).status == "open"
    done = ticketing.governance.servicenow_callback(verdict, stamp, signature)
    assert done.status == "approved" and done.decisions[0].approver == "servicenow"
    assert admin.governance.status(f"credit/{version}").state == "approved"


def test_a_dispatcher_killed_mid_send_leaves_the_delivery_for_another(people) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from slipway.webhooks.dispatcher import Dispatcher

    admin = people()
    with Receiver() as receiver:
        hook = admin.governance.add_webhook(receiver.url, ["alert"])["webhook"]
        with _db(admin).write() as conn:
            emit(conn, WebhookEvent.ALERT, {"alert": "a1", "monitor": "m1", "check": "c", "run": "r", "summary": ""})
        crashed = Dispatcher(admin._transport.ctx)
        assert len(crashed._claim(10)) == 1  # claimed, then the process dies before sending
        assert admin.governance.dispatch().attempted == 0  # the lease keeps others off meanwhile
        with _db(admin).write() as conn:  # the lease runs out
            conn.execute(text("UPDATE webhook_deliveries SET lease_until_ms = 1"))
        assert admin.governance.dispatch().delivered == 1
        assert len(receiver.received) == 1
    assert admin.governance.deliveries(hook.id)[0].status == "delivered"
