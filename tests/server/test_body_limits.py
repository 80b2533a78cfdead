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


DEPTH = 100_000
VALUES = "more than 1,000,000 JSON values"
NESTED = "recursion limit exceeded"  # the JSON parser stops at its depth limit, a few hundred bytes in


def test_deep_nesting_and_huge_arrays_get_a_4xx_json_error(home: Path) -> None:
    """JSON nested 100,000 deep and arrays of hundreds of thousands of items are refused with a JSON 4xx naming
    the problem, on every kind of route; a body over the limit is a 413 whatever it holds."""
    cases = [
        ("/api/v1/tracking/create_experiment", b'{"name": ' + b"[" * DEPTH + b"]" * DEPTH + b"}", 422, NESTED),
        ("/api/v1/tracking/create_experiment",
         b'{"name": "x", "tags": ' + b'{"a":' * DEPTH + b"1" + b"}" * DEPTH + b"}", 422, NESTED),
        ("/api/v1/pipelines/create_schedule", b'{"params": ' + b"[" * DEPTH + b"]" * DEPTH + b"}", 422, NESTED),
        ("/api/v1/blobs/missing", b'{"digests": ' + b"[" * DEPTH + b"]" * DEPTH + b"}", 422, NESTED),
        ("/api/v1/blobs/missing", b'{"digests": [' + b'"a",' * 500_000 + b'"a"]}', 422, "digests"),
        ("/api/v1/tracking/log_batch", b'{"run_id": "r", "metrics": [' + b"1," * 100_000 + b"1]}", 422, "metrics"),
        # Within the byte limit, but a million values would take ~60 MB to parse: refused unparsed.
        ("/api/v1/tracking/log_batch", b'{"run_id": "r", "metrics": [' + b"1," * 1_000_000 + b"1]}", 422, VALUES),
        ("/api/v1/blobs/missing", b'{"digests": [' + b"1," * 1_500_000 + b"1]}", 422, VALUES),
        ("/api/v1/tracking/create_experiment", b'{"name": [' + b"1," * 3_000_000 + b"1]}", 413, "limit"),
    ]
    with platform_server(make_settings(home, max_request_bytes=4_000_000)) as (url, token):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            for path, body, status, named in cases:
                response = client.post(path, content=body)
                assert response.status_code == status, (path, body[:40], response.text[:300])
                assert response.headers["content-type"] == "application/json"
                error = response.json()["error"]
                assert error["type"] == ("PayloadTooLarge" if status == 413 else "InvalidInput")
                assert named in error["message"], error
            # The same body over the limit, streamed without a length, is refused as it is counted.
            streamed = client.post("/api/v1/tracking/create_experiment", content=_chunks(5_000_000, 65536))
            assert streamed.status_code == 413 and streamed.json()["error"]["type"] == "PayloadTooLarge"
            assert client.post("/api/v1/tracking/create_experiment", json={"name": "after"}).status_code == 200


def test_large_bodies_in_flight_at_once_are_bounded_by_a_budget(home: Path) -> None:
    """Bodies over 1 MiB being received count against 4 x max_request_bytes across requests; one
    that would go over is answered 503 at once, small requests still go through, and the budget is
    given back when a request ends (here: its client goes away)."""
    limit = 2 * 1024 * 1024
    with platform_server(make_settings(home, max_request_bytes=limit)) as (url, token):
        host, port = url.removeprefix("http://").split(":")
        head = (f"POST /api/v1/tracking/create_experiment HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {limit}\r\n\r\n")
        holders = []
        for _ in range(4):  # each sends half its body and waits: 4 x 2 MiB of the 8 MiB budget
            sock = socket.create_connection((host, int(port)), timeout=30)
            sock.sendall(head.encode() + b" " * (limit // 2))
            holders.append(sock)
        try:
            answer = b""
            deadline = time.monotonic() + 60
            while b"503" not in answer.partition(b"\r\n")[0] and time.monotonic() < deadline:
                answer = _raw_request(url, head)  # the holders may still be arriving: ask again
            status_line, _, rest = answer.partition(b"\r\n")
            assert status_line.split()[1] == b"503", answer[:300]
            error = orjson.loads(rest.partition(b"\r\n\r\n")[2])["error"]
            assert error["type"] == "BackendUnavailable" and "retry" in error["message"]
            small = httpx.post(f"{url}/api/v1/tracking/create_experiment", json={"name": "small"},
                               headers={"Authorization": f"Bearer {token}"})
            assert small.status_code == 200
        finally:
            for sock in holders:
                sock.close()
        body = b'{"name": "' + b"x" * (limit - 100) + b'"}'
        deadline = time.monotonic() + 60
        while True:  # the server notices the closed connections and gives their budget back
            response = httpx.post(f"{url}/api/v1/tracking/create_experiment", content=body,
                                  headers={"Authorization": f"Bearer {token}"}, timeout=60)
            if response.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert response.status_code == 422 and "name" in response.json()["error"]["message"]
