"""A file upload whose first server is down goes to the next one: a rewindable file is resent from
its start, a one-way stream only when the connection was never made."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from slipway.client.transport import HttpSession
from slipway.core.errors import BackendUnavailable
from slipway.core.hashing import hash_bytes
from tests.support import free_port, make_settings, platform_server


class OneWay(io.RawIOBase):
    """A stream that can be read once and never rewound (a pipe, a socket)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_an_upload_fails_over_to_the_live_server(home: Path, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    digest = hash_bytes(payload)
    path = tmp_path / "blob.bin"
    path.write_bytes(payload)
    dead = f"http://127.0.0.1:{free_port()}"
    with platform_server(make_settings(home)) as (url, token):
        session = HttpSession(f"{dead},{url}", token)  # every call tries the dead server first
        try:
            with path.open("rb") as handle:
                handle.seek(0)
                session.request("PUT", f"/api/v1/blobs/{digest}", content=handle)
            assert session.request("GET", f"/api/v1/blobs/{digest}").content == payload

            other = b"a one-way stream" * 1000
            session = HttpSession(f"{dead},{url}", token)
            session.request("PUT", f"/api/v1/blobs/{hash_bytes(other)}", content=OneWay(other))
            assert session.request("GET", f"/api/v1/blobs/{hash_bytes(other)}").content == other
        finally:
            session.close()


def test_an_upload_with_no_live_server_is_backend_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"x" * 1000)
    session = HttpSession(f"http://127.0.0.1:{free_port()},http://127.0.0.1:{free_port()}", "slw_x")
    with path.open("rb") as handle, pytest.raises(BackendUnavailable, match="cannot reach the Slipway server"):
        session.request("PUT", f"/api/v1/blobs/{hash_bytes(b'x' * 1000)}", content=handle)
    session.close()
