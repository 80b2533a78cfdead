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
from slipway.core.settings import load_settings
from slipway.identity.keys import generate_key_files, parse_public_key
from slipway.local.transport import LocalTransport
from slipway.store.ledger import append_event
from slipway.store.schema.core import api_tokens, users
from slipway.store.schema.governance import approval_decisions, approval_requests
from slipway.store.schema.identity import role_bindings, user_keys
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


def test_verify_names_credentials_inserted_behind_the_apis_back(home: Path, tmp_path: Path) -> None:
    """A key row for bob, a token row for bob and a binding, written straight into the database."""
    admin = open_workspace(make_settings(home / "store", user=""))
    admin.identity.create_user("alice", ["developer", "approver"])
    admin.identity.create_user("bob", ["approver"])
    legitimate = admin.identity.create_token("bob", "legitimate", expires_in_days=1).info
    alice = open_workspace(make_settings(home / "store", user="alice"))
    version, _ = register_credit(alice, "credit", mitigated=True)
    request = alice.governance.request_approval(f"credit/{version}", "ready")
    assert admin.audit.verify().ok
    public, fingerprint = generate_key_files(tmp_path / "evil" / "id_ed25519")
    db = alice._transport.db
    with db.write() as conn:
        ids = dict(conn.execute(select(users.c.name, users.c.id)).all())
        conn.execute(user_keys.insert().values(id=new_id(), user_id=ids["bob"], fingerprint=fingerprint,
                                               public_key=parse_public_key(public.read_text())[0], added_by="admin",
                                               created_ms=request.created_ms - 1000))
    as_bob = open_workspace(load_settings(home=home / "store", user="bob", signing_key=str(tmp_path / "evil" / "id_ed25519"),
                                          server_url="", token=""))
    assert as_bob.governance.approve(request.id, "lgtm").status == "approved"  # the signature itself holds
    verdict = admin.audit.verify()
    assert not verdict.ok and f"signing key {fingerprint} of bob has no registration event" in verdict.reason
    with db.write() as conn:
        conn.execute(user_keys.delete().where(user_keys.c.fingerprint == fingerprint))
        conn.execute(api_tokens.insert().values(id="forged-token", user_id=ids["bob"], token_hash="0" * 64,
                                                prefix="slw_forged", description="", created_ms=1))
        conn.execute(api_tokens.update().where(api_tokens.c.description == "legitimate").values(expires_ms=None))
        conn.execute(role_bindings.insert().values(user_id=ids["alice"], role="admin", project="default",
                                                   bound_by="admin", created_ms=1))
    messages = [p.message for p in admin.audit.verify().problems if p.check in ("keys", "tokens", "bindings")]
    assert messages == ["API token forged-token of bob has no creation event for that user: the row was written "
                        "outside the API",
                        f"API token {legitimate.id} of bob expires at None, but its creation event gave "
                        f"{legitimate.expires_ms}",
                        "alice holds admin in project 'default', but no event bound it there (or it was unbound since)"]
