"""Ticketed sign-off against a loopback ServiceNow (the bank example's, examples/bank/ticketing.py): a
high-risk model's approval request opens a change request with the evidence attached, and the
ticket's approvers become the approvers of record, never the requester."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from slipway.core.errors import Conflict, NotFound, PermissionDenied
from slipway.examples.bank.ticketing import ServiceNowServer
from slipway.webhooks.servicenow import sign_callback
from slipway.webhooks.servicenow_api import ServiceNowClient
from slipway.webhooks.settings import ServiceNowSettings
from slipway.workspace import Workspace, open_workspace
from tests.governance.credit import register_credit
from tests.support import make_settings

USERS = {"slipway-integration": "s3cret-pw", "alice": "a-pw", "carol": "c-pw", "dave": "d-pw"}


@pytest.fixture
def ticketed(home: Path) -> Iterator[Callable[..., Any]]:
    """``ticketed(cab)`` -> (server, open_as): a ServiceNow whose CAB is ``cab``, and workspaces
    (``open_as(user, **servicenow_overrides)``) configured to open tickets there."""
    servers: list[ServiceNowServer] = []
    opened: list[Workspace] = []

    def start(cab: tuple[str, ...] = ("carol", "dave"), tokens: dict[str, str] | None = None) -> Any:
        server = ServiceNowServer(USERS, tokens=tokens, cab=cab).__enter__()
        servers.append(server)

        def open_as(user: str = "tester", **snow: Any) -> Workspace:
            conf = {"instance_url": server.url, "username": "slipway-integration", "password": "s3cret-pw", **snow}
            sections = {"governance": {"dispatch_in_server": False, "servicenow": conf}}
            ws = open_workspace(dataclasses.replace(make_settings(home, user=user), sections=sections))
            opened.append(ws)
            return ws

        return server, open_as

    yield start
    for ws in opened:
        ws.close()
    for server in servers:
        server.__exit__()


def _setup(open_as: Callable[..., Workspace]) -> tuple[Workspace, Workspace, str]:
    admin = open_as()
    admin.identity.create_user("alice", ["developer", "approver"])  # may approve others' models, never her own
    admin.identity.create_user("carol", ["approver"])
    admin.identity.create_user("servicenow", ["approver"], kind="service")
    admin.registry.create_model("credit", owner="credit-risk-team", risk_tier="high")
    alice = open_as("alice")
    version, _ = register_credit(alice, "credit", mitigated=True)
    return admin, alice, f"credit/{version}"


def test_ticket_opens_with_evidence_and_its_approvers_become_approvers_of_record(ticketed) -> None:  # type: ignore[no-untyped-def]
    server, open_as = ticketed(cab=("alice", "carol", "dave"))
    admin, alice, ref = _setup(open_as)
    request = alice.governance.request_approval(ref, "quarterly refresh")

    number = request.ticket_number
    assert number == "CHG0030001" and request.external_ref
    change = server.change(number)
    assert change["correlation_id"] == request.id and ref in change["short_description"]
    assert change["state"] == "-4" and change["approval"] == "requested"
    assert change["sys_created_by"] == "slipway-integration"
    (attachment,) = server.attachments.values()
    assert attachment["table_sys_id"] == change["sys_id"] and attachment["content_type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(attachment["content"])) as pack:
        names = pack.namelist()
        assert "evidence-credit-1/model-card.md" in names and "evidence-credit-1/lineage.json" in names
        assert b"german-train" in pack.read("evidence-credit-1/lineage.json")
        assert b"carries no audit proofs" in pack.read("evidence-credit-1/README.md")

    relay = open_as("servicenow")
    (waiting,) = relay.governance.sync_tickets()
    assert waiting.outcome == "waiting" and waiting.ticket_approval == "requested"
    assert server.decide(number, "alice", "approved", "looks fine to me").status_code == 200
    assert server.decide(number, "carol", "approved", "CAB: fairness report reviewed").status_code == 200
    assert server.decide(number, "carol", "approved").status_code == 200  # idempotent in ServiceNow
    assert relay.governance.sync_tickets()[0].outcome == "waiting"  # dave has not approved yet
    assert admin.governance.status(ref).state == "pending_approval"
    assert server.decide(number, "dave", "approved", "CAB: ok").status_code == 200

    (done,) = relay.governance.sync_tickets()
    assert done.outcome == "approved" and done.status == "approved", done
    final = admin.governance.get_request(request.id)
    assert {(d.approver, d.ticket) for d in final.decisions} == {("carol", number), ("dave", number)}  # not alice
    assert admin.governance.status(ref).state == "approved"
    assert any("Slipway recorded the approved verdict" in n for n in server.change(number)["work_notes_history"])
    assert relay.governance.sync_tickets() == []  # nothing open any more

    # The ticket number is in the ledger and on the card; the relayed decisions' proofs verify.
    log = admin.audit.log(subject=f"approval_request:{request.id}")
    assert any(e.action == "approval.external_ref" and e.details["number"] == number for e in log)
    assert any(e.action == "approval.ticket_refused" and e.details["approver"] == "alice" for e in log)
    approvals = admin.audit.log(subject=f"model_version:{ref}", action="approval.approve")
    assert {(e.actor, e.details["ticket_approver"], e.details["ticket"]) for e in approvals} == {
        ("servicenow", "carol", number), ("servicenow", "dave", number)}
    assert f"change {number}" in admin.governance.card(ref) and "**carol** in change" in admin.governance.card(ref)
    verdict = admin.audit.verify()
    assert verdict.ok, verdict


def test_a_ticket_approved_only_by_the_requester_does_not_count(ticketed) -> None:  # type: ignore[no-untyped-def]
    server, open_as = ticketed(cab=("alice",))
    admin, alice, ref = _setup(open_as)
    request = alice.governance.request_approval(ref, "self-service release")
    assert server.decide(request.ticket_number, "alice", "approved", "mine").status_code == 200
    assert server.change(request.ticket_number)["approval"] == "approved"

    (blocked,) = open_as("servicenow").governance.sync_tickets()
    assert blocked.outcome == "blocked" and "requester" in blocked.detail
    assert admin.governance.status(ref).state == "pending_approval"
    # Approvals given in Slipway do not replace the ticket's: the change is where it is signed off.
    with pytest.raises(Conflict, match="signed off in change CHG0030001"):
        open_as("carol").governance.approve(request.id, "looked at it")
    with pytest.raises(Conflict, match="approve it there"):
        admin.governance.approve(request.id, "me too")
    assert admin.governance.get_request(request.id).status == "open"
    assert admin.governance.status(ref).state == "pending_approval"
    with pytest.raises(PermissionDenied):  # nor can alice approve in Slipway
        alice.governance.approve(request.id, "self")


def test_signed_callback_reads_the_ticket_and_does_not_trust_its_body(ticketed) -> None:  # type: ignore[no-untyped-def]
    server, open_as = ticketed(cab=("carol",))
    secret = "callback-secret-0123456789"  # [governance.servicenow] callback_secret: no webhook needed
    _, alice, ref = _setup(lambda user="tester", **snow: open_as(user, callback_secret=secret, **snow))
    request = alice.governance.request_approval(ref, "release")
    assert server.decide(request.ticket_number, "carol", "rejected", "no back-test on 2025 data").status_code == 200

    # The callback claims "approved"; the ticket says rejected, and the ticket wins.
    body = {"correlation_id": request.id, "sys_id": request.external_ref, "approval": "approved", "comments": "ok"}
    stamp, signature = sign_callback(secret, body)
    relay = open_as("servicenow", callback_secret=secret)
    with pytest.raises(PermissionDenied, match="signature"):
        relay.governance.servicenow_callback({**body, "comments": "forged"}, stamp, signature)
    result = relay.governance.servicenow_callback(body, stamp, signature)
    assert result.status == "rejected"
    (decision,) = result.decisions
    assert (decision.approver, decision.decision, decision.ticket) == ("carol", "reject", request.ticket_number)
    assert decision.comment == "no back-test on 2025 data"
    assert relay.governance.status(ref).state == "rejected"


def test_errors_are_named_and_a_failed_opening_is_retried_by_sync(ticketed) -> None:  # type: ignore[no-untyped-def]
    server, open_as = ticketed(tokens={"oauth-token-123": "slipway-integration"})
    admin, _, ref = _setup(open_as)
    wrong = open_as("alice", password="wrong")
    request = wrong.governance.request_approval(ref, "release")
    assert request.ticket_number is None and "HTTP 401" in (request.blocked_by or "")
    assert "User Not Authenticated" in (request.blocked_by or "") and not server.changes

    # Through OAuth bearer this time: sync opens the missing change request.
    relay = open_as("servicenow", username="", password="", token="oauth-token-123")
    (opened,) = relay.governance.sync_tickets()
    assert opened.outcome == "opened" and opened.ticket_number == "CHG0030001"
    assert admin.governance.get_request(request.id).ticket_number == "CHG0030001"

    conf = ServiceNowSettings(instance_url=server.url, token="oauth-token-123")
    with ServiceNowClient(conf) as client, pytest.raises(NotFound, match="No Record found"):
        client.get_change("0" * 32)
    with ServiceNowClient(conf) as client, pytest.raises(PermissionDenied, match="Data Policy Exception"):
        client.update_change(server.change("CHG0030001")["sys_id"], {"state": "3"})  # Assess -> Closed skips steps


def test_cli_tickets_sync(ticketed, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    server, open_as = ticketed(cab=("carol",))
    _, alice, ref = _setup(open_as)
    request = alice.governance.request_approval(ref, "release")
    code, _, err = cli("governance", "tickets", "sync")
    assert code == 2 and "instance_url" in err  # no [governance.servicenow] in this folder's slipway.toml
    (tmp_path / "slipway.toml").write_text(
        f'[governance]\ndispatch_in_server = false\n[governance.servicenow]\ninstance_url = "{server.url}"\n'
        'username = "slipway-integration"\npassword = "s3cret-pw"\n')
    code, out, err = cli("governance", "tickets", "sync", "--json", "--every", "1", "--count", "2")
    assert code == 0, err
    polls = [json.loads(chunk) for chunk in out.replace("]\n[", "]\n\n[").split("\n\n")]
    assert len(polls) == 2 and all(p[0]["outcome"] == "waiting" and p[0]["request_id"] == request.id for p in polls)
    assert sum(1 for method, path, _ in server.requests if method == "GET" and path.endswith(request.external_ref)) == 2
