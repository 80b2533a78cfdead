"""Password guessing through the sign-in form, over real HTTP: after five wrong passwords a user
name is refused with 429 and Retry-After (even with the right password, which is not checked)
until its lock-out ends; an unknown name gets the same answer; and a second ``slipway server``
process over the same PostgreSQL database refuses it too. The first server runs in the test
process so its clock can be injected; the second is a real subprocess on the wall clock."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from slipway.core.clock import now_ms
from slipway.identity.throttle import LOCKED_MESSAGE
from slipway.workspace import open_workspace
from tests.support import ServerThread, free_port, make_settings, postgres_database

pytestmark = pytest.mark.xdist_group("ui-signin-throttle")

PASSWORD = "a long enough passphrase"
WRONG = "the wrong passphrase"
ADMIN_TOKEN = "slw_throttle-test-admin-token"


class Clock:
    """Frozen at the wall clock's time when made, until advanced."""

    def __init__(self) -> None:
        self.ms = now_ms()

    def __call__(self) -> int:
        return self.ms


@contextlib.contextmanager
def server_process(home: Path, store_uri: str) -> Iterator[str]:
    """A real ``slipway server`` subprocess over ``store_uri``; yields its URL."""
    home.mkdir(parents=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update(SLIPWAY_HOME=str(home), SLIPWAY_STORE_URI=store_uri, SLIPWAY_BOOTSTRAP_TOKEN=ADMIN_TOKEN)
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "slipway.cli.main", "server", "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # generous: the machine is shared
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def sign_in(url: str, user: str, password: str) -> httpx.Response:
    client = httpx.Client(base_url=url, timeout=60)
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/signin").text)
    assert nonce
    return client.post("/signin", data={"nonce": nonce.group(1), "user": user, "password": password, "next": "/"})


def refused(answer: httpx.Response) -> int:
    """The Retry-After of a 429 that started no session."""
    assert answer.status_code == 429, answer.text
    assert LOCKED_MESSAGE in answer.text and "slipway_session" not in answer.headers.get("set-cookie", "")
    return int(answer.headers["retry-after"])


def test_guessing_is_locked_out_on_every_server_over_the_database(tmp_path: Path) -> None:
    from slipway.server.bootstrap import prepare
    from slipway.ui.app import create_app

    with postgres_database() as uri:
        settings = dataclasses.replace(make_settings(tmp_path / "a", store_uri=uri), bootstrap_token=ADMIN_TOKEN)
        prepare(settings)
        ws = open_workspace(make_settings(tmp_path / "a", store_uri=uri))
        try:
            ws.identity.create_user("bob", ["viewer"])
            ws.identity.set_password("bob", PASSWORD)
        finally:
            ws.close()
        app = create_app(settings)
        clock = Clock()
        app.state.signin_throttle.clock = clock
        with ServerThread(app) as first, server_process(tmp_path / "b", uri) as second:
            for user in ("bob", "nobody"):
                for _ in range(5):
                    wrong = sign_in(first.url, user, WRONG)
                    assert wrong.status_code == 401 and "the user name or the password is wrong" in wrong.text
                assert refused(sign_in(first.url, user, PASSWORD)) == 900  # the sixth: refused, unchecked
            # The other process, over the same database, refuses bob too (its clock is the wall's).
            assert 0 < refused(sign_in(second, "bob", PASSWORD)) <= 900
            assert 0 < refused(sign_in(second, "nobody", PASSWORD)) <= 900

            clock.ms += 900_000  # the lock-out is over
            allowed = sign_in(first.url, "bob", PASSWORD)
            assert allowed.status_code == 303 and "slipway_session=" in allowed.headers.get("set-cookie", "")
            assert sign_in(first.url, "nobody", WRONG).status_code == 401  # counted again, not refused
            # bob's success cleared his count for every process
            assert sign_in(second, "bob", PASSWORD).status_code == 303

        ws = open_workspace(make_settings(tmp_path / "a", store_uri=uri))
        try:
            events = ws.audit.log(limit=200)
        finally:
            ws.close()
        failed = [e for e in events if e.action == "user.sign_in_failed"]
        locked = sorted((e.subject_id, e.details["locked"]) for e in events if e.action == "user.sign_in_locked")
        assert len(failed) == 11 and {e.details["client"] for e in failed} == {"127.0.0.1"}
        assert locked == [("bob", "user"), ("nobody", "user")]
        assert not any(PASSWORD in str(e.details) or WRONG in str(e.details) for e in events)
