"""Roles over the real platform server: a viewer is refused with 403, the requester may not
approve, an approver can; the server's background dispatcher delivers the webhook."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import httpx
import pytest

from slipway.core.errors import PermissionDenied
from slipway.workspace import open_workspace
from tests.governance.credit import LABEL, german, register_credit
from tests.governance.receiver import Receiver
from tests.support import make_settings, platform_server

SECTIONS = {"governance": {"webhooks": {"interval_s": 0.1, "base_delay_s": 0.1}, "risk_tiers": {"low": 1}}}


def test_roles_are_enforced_over_http(home: Path) -> None:
    server_settings = dataclasses.replace(make_settings(home / "server"), sections=SECTIONS)
    local = open_workspace(server_settings)  # the server's own store, to register a model quickly
    version, _ = register_credit(local, "credit", mitigated=True)
    ref = f"credit/{version}"
    with platform_server(server_settings) as (url, admin_token), Receiver() as receiver:
        admin = open_workspace(make_settings(home / "admin", server_url=url, token=admin_token))
        tokens = {}
        for name, roles in (("vera", ["viewer"]), ("alice", ["developer", "approver", "deployer"]), ("bob", ["approver"]),
                            ("vic", ["validator"])):
            admin.identity.create_user(name, roles)
            tokens[name] = admin.identity.create_token(name, "test").token
        admin.governance.add_webhook(receiver.url, ["approval.approved"])
        as_user = {n: open_workspace(make_settings(home / n, server_url=url, token=t)) for n, t in tokens.items()}

        _, test = german()
        with pytest.raises(PermissionDenied, match=r"governance\.validate"):  # evidence is not the developer's to give
            as_user["alice"].governance.evaluate_fairness(ref, test, label=LABEL, sensitive=["sex"], positive_label=1)
        report = as_user["vic"].governance.evaluate_fairness(ref, test, label=LABEL, sensitive=["sex"], positive_label=1)
        stored = admin.governance.fairness_report(ref)  # the full report, from the server's blob store
        assert stored["attributes"]["sex"]["groups"] == report["attributes"]["sex"]["groups"]
        with pytest.raises(PermissionDenied):
            as_user["vera"].governance.edit_card(ref, "intended_use", "vandalism")
        request = as_user["alice"].governance.request_approval(ref, "release candidate")
        with pytest.raises(PermissionDenied, match="vera"):
            as_user["vera"].governance.approve(request.id, "i like it")
        raw = httpx.post(f"{url}/api/v1/governance/decide", json={"request_id": request.id, "decision": "approve"},
                         headers={"Authorization": f"Bearer {tokens['vera']}"})
        assert raw.status_code == 403 and raw.json()["error"]["type"] == "PermissionDenied"
        with pytest.raises(PermissionDenied):
            as_user["vera"].governance.promote(ref, "champion")
        with pytest.raises(PermissionDenied, match="may not decide"):
            as_user["alice"].governance.approve(request.id, "mine")
        assert as_user["bob"].governance.get_request(request.id).approvals == 0

        done = as_user["bob"].governance.approve(request.id, "ok")
        assert done.status == "approved"
        decided = admin.audit.log(action="approval.approve")[0]  # proved by bob's token, through the server
        proof = decided.details["proof"]  # the server signed it, naming the token it checked
        assert decided.actor == "bob" and proof["scheme"] == "token"
        assert proof["signed"]["token_id"] == admin.identity.list_tokens("bob")[0].id
        assert [k.user for k in admin.identity.list_keys() if k.fingerprint == proof["key"]] == ["slipway-server"]
        assert admin.audit.verify().ok
        as_user["alice"].governance.promote(ref, "champion")
        assert admin.governance.status(ref).aliases == ["champion"]
        deadline = time.time() + 10
        while not receiver.received and time.time() < deadline:
            time.sleep(0.05)
        assert receiver.received and b"approval.approved" in receiver.received[0][2]
        admin.identity.set_disabled("vera")
        time.sleep(5.1)  # the server caches a token's principal for up to 5 s
        gone = httpx.post(f"{url}/api/v1/governance/status", json={"ref": ref},
                          headers={"Authorization": f"Bearer {tokens['vera']}"})
        assert gone.status_code == 401 and "disabled" in gone.json()["error"]["message"]
        for ws in (admin, *as_user.values()):
            ws.close()
    local.close()
