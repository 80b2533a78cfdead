"""Ticketed sign-off and the evidence pack through a real `slipway server`: the server talks to
the loopback ServiceNow, the relayed decision is proved by the service account's token, and the
auditor's pack (exported over HTTP) verifies offline."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from slipway.audit.keys import generate_key
from slipway.core.errors import Conflict, PermissionDenied
from slipway.core.evidence_check import check_pack, read_pack
from slipway.examples.bank.ticketing import ServiceNowServer
from slipway.workspace import open_workspace
from tests.governance.credit import register_credit
from tests.support import make_settings, platform_server


def test_ticketed_sign_off_and_evidence_over_http(home: Path, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "audit.pem"
    public = generate_key(key)
    with ServiceNowServer({"slipway-integration": "s3cret-pw", "carol": "c-pw"}, cab=("carol",)) as snow:
        sections = {"governance": {"dispatch_in_server": False, "risk_tiers": {"high": 1},
                                   "servicenow": {"instance_url": snow.url, "username": "slipway-integration",
                                                  "password": "s3cret-pw"}},
                    "audit": {"signing_key": str(key), "public_key": str(public)}}
        server_settings = dataclasses.replace(make_settings(home / "server"), sections=sections)
        local = open_workspace(server_settings)
        local.registry.create_model("credit", owner="credit-risk-team", risk_tier="high")
        local.close()
        with platform_server(server_settings) as (url, admin_token):
            admin = open_workspace(make_settings(home / "admin", server_url=url, token=admin_token))
            tokens = {}
            for name, roles, kind in (("alice", ["developer"], "user"), ("carol", ["approver"], "user"),
                                      ("servicenow", ["approver"], "service"), ("audrey", ["auditor"], "user")):
                admin.identity.create_user(name, roles, kind=kind)
                tokens[name] = admin.identity.create_token(name, "test").token
            people = {n: open_workspace(make_settings(home / n, server_url=url, token=t)) for n, t in tokens.items()}

            version, _ = register_credit(people["alice"], "credit", mitigated=True)
            ref = f"credit/{version}"
            request = people["alice"].governance.request_approval(ref, "release through the CAB")
            assert request.ticket_number == "CHG0030001" and snow.attachments
            with pytest.raises(Conflict, match="CHG0030001"):  # signed off in the ticket, not here
                people["carol"].governance.approve(request.id, "fine by me")
            with pytest.raises(PermissionDenied, match=r"governance\.approve"):
                people["alice"].governance.sync_tickets()

            assert snow.decide("CHG0030001", "carol", "approved", "CAB 2026-12-07").status_code == 200
            (done,) = people["servicenow"].governance.sync_tickets()
            assert done.outcome == "approved" and done.status == "approved", done
            event = admin.audit.log(action="approval.approve", subject=f"model_version:{ref}")[0]
            assert event.actor == "servicenow" and event.details["proof"]["relay"]["scheme"] == "token"
            assert event.details["ticket"] == "CHG0030001"
            assert admin.audit.verify().ok

            with pytest.raises(PermissionDenied, match=r"audit\.read"):
                people["alice"].governance.export_evidence(ref, tmp_path / "alice-pack")
            out = people["audrey"].governance.export_evidence(ref, tmp_path / "pack")
            verdict = check_pack(read_pack(out), public.read_bytes())
            assert verdict["ok"], verdict["problems"]
            assert "CHG0030001" in (out / "approvals.json").read_text() and "CHG0030001" in (out / "README.md").read_text()
            for ws in people.values():
                ws.close()
            admin.close()
