"""Request bodies are bounded before they are read, and uploads stream to the store capped."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

from slipway.core.hashing import hash_bytes
from tests.support import make_settings, platform_server


def _raw_request(url: str, head: str) -> bytes:
    """Send only a request's head (no body) and return what the server answers."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_a_1_gib_content_length_is_refused_with_413_before_the_body_is_sent(home: Path) -> None:
    with platform_server(make_settings(home)) as (url, token):
        # A JSON body of 1 GiB; an upload of 1 TiB (uploads have their own, larger cap).
        for path, size in (("/api/v1/tracking/create_experiment", 2**30), ("/api/v1/blobs/" + "0" * 64, 2**40)):
            method = "PUT" if "blobs" in path else "POST"
            answer = _raw_request(url, f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                                       f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n")
            status_line, _, rest = answer.partition(b"\r\n")
            assert status_line.split()[1] == b"413", answer[:300]
            body = orjson.loads(rest.partition(b"\r\n\r\n")[2])
            assert body["error"]["type"] == "PayloadTooLarge"
            assert str(size) in body["error"]["message"]


def _chunks(total: int, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b" " * min(size, total - start)


def test_a_streamed_body_over_the_limit_is_refused_while_it_is_counted(home: Path) -> None:
    with platform_server(make_settings(home, max_request_bytes=10_000)) as (url, token):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        response = httpx.post(f"{url}/api/v1/tracking/list_experiments", headers=headers,
                              content=_chunks(50_000))  # no Content-Length: chunked
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "PayloadTooLarge"
        assert httpx.post(f"{url}/api/v1/tracking/list_experiments", headers=headers,
                          content=b"{}").status_code == 200


def test_uploads_are_capped_by_the_setting_and_leave_nothing_behind(home: Path) -> None:
    server_home = home / "server"
    with platform_server(make_settings(server_home, max_upload_bytes=100_000)) as (url, token):
        headers = {"Authorization": f"Bearer {token}"}
        small, large = os.urandom(50_000), os.urandom(200_000)
        assert httpx.put(f"{url}/api/v1/blobs/{hash_bytes(small)}", content=small, headers=headers).status_code == 200
        declared = httpx.put(f"{url}/api/v1/blobs/{hash_bytes(large)}", content=large, headers=headers)
        assert declared.status_code == 413
        assert "max_upload_bytes" in declared.json()["error"]["message"]
        streamed = httpx.put(f"{url}/api/v1/blobs/{hash_bytes(large)}", headers=headers,
                             content=(large[i : i + 10_000] for i in range(0, len(large), 10_000)))
        assert streamed.status_code == 413
        missing = httpx.post(f"{url}/api/v1/blobs/missing", headers=headers,
                             json={"digests": [hash_bytes(small), hash_bytes(large)]}).json()["missing"]
        assert missing == [hash_bytes(large)]
    assert os.listdir(server_home / "artifacts" / "tmp") == []


def test_a_killed_uploads_temporary_file_is_removed_at_the_next_start(home: Path) -> None:
    tmp = home / "artifacts" / "tmp"
    tmp.mkdir(parents=True)
    stale, fresh = tmp / "upload-killed", tmp / "upload-live"
    stale.write_bytes(b"half an upload")
    fresh.write_bytes(b"an upload in progress")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    with platform_server(make_settings(home)):
        assert not stale.exists()
        assert fresh.exists()
