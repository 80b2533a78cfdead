"""What a longer schemathesis run against a real server found (issue 13): both were 500s."""

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
