"""A decision claimed to come through a server must carry the server's signature.

Before servers signed their decisions, a token proof was the bare ``{"scheme": "token"}``: the
requester, who can open the store embedded, built a transport "authenticated by a token" as
another user and approved their own request, and ``audit verify`` found nothing wrong.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from slipway.core.auth import Principal
from slipway.core.errors import PermissionDenied
from slipway.core.events import Action, Subject
from slipway.core.ids import new_id
from slipway.local.transport import LocalTransport
from slipway.store.ledger import append_event
from slipway.store.schema.governance import approval_decisions, approval_requests
from slipway.workspace import open_workspace
from tests.governance.credit import register_credit
from tests.support import make_settings, platform_server

SECTIONS = {"governance": {"risk_tiers": {"low": 2}}}


def test_an_embedded_caller_cannot_claim_a_token_for_someone_else(home: Path) -> None:
    admin = open_workspace(make_settings(home / "store", user=""))
    admin.identity.create_user("alice", ["developer", "approver"])
    admin.identity.create_user("bob", ["approver"])
    alice = open_workspace(make_settings(home / "store", user="alice"))
    version, _ = register_credit(alice, "credit", mitigated=True)
    request = alice.governance.request_approval(f"credit/{version}", "ready")
    # alice opens the store as "bob, authenticated by a token": bob never had one.
    forged = LocalTransport(alice.settings, Principal("bob", frozenset({"approver"})), credential="token")
    with pytest.raises(PermissionDenied, match="must be made through a slipway server"):
        forged.backend("governance").decide(request.id, "approve", "lgtm")
    assert admin.governance.get_request(request.id).approvals == 0
    assert admin.governance.status(f"credit/{version}").state == "pending_approval"


def test_verify_names_a_bare_token_proof_once_a_server_signs_them(home: Path) -> None:
    settings = dataclasses.replace(make_settings(home / "server"), sections=SECTIONS)
    local = open_workspace(settings)
    version, _ = register_credit(local, "credit", mitigated=True)
    ref = f"credit/{version}"
    with platform_server(settings) as (url, admin_token):
        admin = open_workspace(make_settings(home / "admin", server_url=url, token=admin_token))
        tokens = {}
        for name, roles in (("alice", ["developer"]), ("bob", ["approver"]), ("carol", ["approver"])):
            admin.identity.create_user(name, roles)
            tokens[name] = admin.identity.create_token(name, "test").token
        people = {n: open_workspace(make_settings(home / n, server_url=url, token=t)) for n, t in tokens.items()}
        request = people["alice"].governance.request_approval(ref, "release candidate")
        assert people["bob"].governance.approve(request.id, "ok").approvals == 1
        assert admin.audit.verify().ok
        # alice, with write access to the database, adds carol's approval the way a server used to prove it.
        db = local._transport.db
        with db.write() as conn:
            fields = {"request_id": request.id, "comment": "fine", "proof": {"scheme": "token"}}
            conn.execute(approval_decisions.insert().values(
                id=new_id(), request_id=request.id, approver="carol", decision="approve", comment="fine",
                proof=orjson.dumps({"scheme": "token"}).decode(), created_ms=request.created_ms + 10**6))
            append_event(conn, "carol", Action.APPROVAL_APPROVE, Subject.MODEL_VERSION, ref, fields)
            assert conn.execute(select(approval_requests.c.status)).scalar() == "open"
        verdict = admin.audit.verify()
        assert not verdict.ok
        assert "(approval.approve by carol on credit/1) claims a token without the server's signature" in verdict.reason
        for ws in (admin, *people.values()):
            ws.close()
    local.close()
