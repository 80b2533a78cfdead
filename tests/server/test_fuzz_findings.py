"""What longer schemathesis runs against a real server found (issue 13, scripts/fuzz.sh)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import make_settings, platform_server


def test_an_overlong_event_number_and_an_unknown_key_type_are_4xx(tmp_path: Path) -> None:
    with platform_server(make_settings(tmp_path / "server")) as (url, token):
        headers = {"Authorization": f"Bearer {token}"}
        proof = httpx.post(f"{url}/api/v1/audit/prove", headers=headers,
                           json={"event": "0" * 8000, "checkpoint": None}, timeout=30)
        assert proof.status_code == 404 and "no audit event" in proof.json()["error"]["message"]
        key = httpx.post(f"{url}/api/v1/identity/add_key", headers=headers, timeout=30,
                         json={"user": "nobody", "public_key": "\U00076e94Yzq AAAA"})
        assert key.status_code == 422 and "not an OpenSSH public key" in key.json()["error"]["message"]


def test_the_last_enabled_admin_cannot_disable_or_demote_itself(tmp_path: Path) -> None:
    """A ten-minute run as admin (scripts/fuzz.sh, seed 2) disabled its own admin, the only one,
    through identity.set_disabled: every later call was a 401 and nobody could manage users."""
    with platform_server(make_settings(tmp_path / "server")) as (url, token):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            # The test store has other admins (the OS user, the enrolled tester): they step down first.
            others = [u["name"] for u in client.post("/api/v1/identity/list_users").json()
                      if "admin" in u["roles"] and u["name"] != "admin"]
            assert others
            for name in others:
                response = client.post("/api/v1/identity/set_disabled", json={"name": name, "disabled": True})
                assert response.status_code == 200, response.text
            for path, body in (("set_disabled", {"name": "admin", "disabled": True}),
                               ("set_roles", {"name": "admin", "roles": ["viewer"]})):
                refused = client.post(f"/api/v1/identity/{path}", json=body)
                assert refused.status_code == 409, refused.text
                assert "last enabled admin" in refused.json()["error"]["message"]
            assert client.post("/api/v1/identity/whoami").json()["roles"] == ["admin"]
            # With another admin, the first may step down.
            assert client.post("/api/v1/identity/create_user", json={"name": "ada", "roles": ["admin"]}).status_code == 200
            ada = client.post("/api/v1/identity/create_token", json={"user": "ada"}).json()["token"]
            assert client.post("/api/v1/identity/set_roles", json={"name": "admin", "roles": ["viewer"]}).status_code == 200
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ada}"}, timeout=30) as client:
            assert client.post("/api/v1/identity/set_disabled", json={"name": "ada", "disabled": True}).status_code == 409
            assert client.post("/api/v1/identity/set_disabled", json={"name": "admin", "disabled": True}).status_code == 200
            assert client.post("/api/v1/identity/whoami").json()["name"] == "ada"
