"""Access that is taken away bites at once; the ledger is the auditor's; secrets stay secret."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from slipway.core.errors import PermissionDenied
from slipway.workspace import open_workspace
from tests.support import make_settings, platform_server

HOOK = "https://hooks.example.com/services/T0001/B0002/s3cr3tPathToken"
SECRET = "whsec-0123456789abcdef-never-in-plain-text"


def _call(url: str, token: str, path: str, body: dict[str, object] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/{path}", json=body or {}, headers={"Authorization": f"Bearer {token}"})


def test_revoking_a_token_or_disabling_a_user_bites_on_the_next_request(home: Path) -> None:
    with platform_server(make_settings(home / "server")) as (url, admin_token):
        admin = open_workspace(make_settings(home / "admin", server_url=url, token=admin_token))
        admin.identity.create_user("bob", ["developer"])
        admin.identity.create_user("carol", ["developer"])
        bob = admin.identity.create_token("bob", "laptop")
        carol = admin.identity.create_token("carol", "laptop").token
        for token in (bob.token, carol):
            assert _call(url, token, "identity/whoami").status_code == 200  # now cached by the server
        admin.identity.revoke_token(bob.info.id)
        refused = _call(url, bob.token, "identity/whoami")
        assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
        admin.identity.set_disabled("carol", True)
        refused = _call(url, carol, "identity/whoami")
        assert refused.status_code == 401 and "carol is disabled" in refused.json()["error"]["message"]
        admin.close()


def test_the_ledger_needs_audit_read_and_webhook_secrets_stay_secret(home: Path) -> None:
    server_home = home / "server"
    with platform_server(make_settings(server_home)) as (url, admin_token):
        admin = open_workspace(make_settings(home / "admin", server_url=url, token=admin_token))
        admin.identity.create_user("vera", ["viewer"])
        admin.identity.create_user("otto", ["auditor"])
        vera = admin.identity.create_token("vera").token
        otto = admin.identity.create_token("otto").token
        denied = _call(url, vera, "audit/log")
        assert denied.status_code == 403
        assert "needs the 'audit.read' permission, which the auditor or admin role grants" in \
            denied.json()["error"]["message"]
        assert _call(url, vera, "audit/verify").status_code == 403
        assert _call(url, otto, "audit/verify").json()["ok"] is True

        added = admin.governance.add_webhook(HOOK, ["approval.approved"], secret=SECRET)
        assert added["secret"] == SECRET  # shown once, to the admin who made it
        listed = _call(url, vera, "governance/list_webhooks").json()
        assert listed[0]["url"] == "https://hooks.example.com/…" and SECRET[:4] not in str(listed)
        events = _call(url, otto, "audit/log", {"action": "webhook.add"}).json()
        assert events[0]["details"]["url"] == "https://hooks.example.com/…" and "s3cr3t" not in str(events)
        admin.close()
    database = server_home / "slipway.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    stored = b"".join(p.read_bytes() for p in server_home.glob("slipway.db*"))
    assert SECRET.encode() not in stored and b"fernet:" in stored
    assert stat.S_IMODE((server_home / "secrets-key").stat().st_mode) == 0o600


def test_a_viewer_keeps_its_views_but_not_the_ledger_embedded(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / "home"
    admin = open_workspace(make_settings(home))
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "slipway.db").stat().st_mode) == 0o600
    viewer = open_workspace(make_settings(home, user="vic", local_roles=("viewer",)))
    with pytest.raises(PermissionDenied, match="auditor or admin"):
        viewer.audit.log()
    assert viewer.governance.aliases_at("2026-01-01T00:00:00Z") == [] and viewer.governance.list_requests() == []
    admin.close()
    viewer.close()
