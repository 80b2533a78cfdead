"""Throttling failed password sign-ins: per user name (existing or not, the same answer) and per
client address, with a lock-out that grows and a success that clears the name's count; audited
without the password; the limits are typed ``[signin]`` settings. On SQLite and PostgreSQL, with
an injected clock (the HTTP side, and a second server process, are in tests/ui)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support import make_settings, postgres_database

from slipway.core.errors import InvalidInput, TooManyAttempts, Unauthenticated
from slipway.identity.passwords import open_password_session
from slipway.identity.settings import signin_settings
from slipway.identity.throttle import LOCKED_MESSAGE, SigninThrottle
from slipway.workspace import Workspace, open_workspace

PASSWORD = "correct horse battery staple"
WRONG = "not the right passphrase"
T0 = 1_800_000_000_000


class Clock:
    def __init__(self) -> None:
        self.ms = T0

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@pytest.fixture(params=["sqlite", "postgres"])
def ws(request: pytest.FixtureRequest, home: Path, tmp_path: Path) -> Iterator[Workspace]:
    config = tmp_path / "slipway.toml"
    config.write_text("[signin]\nmax_failures_per_address = 8\n")
    if request.param == "sqlite":
        workspace = open_workspace(make_settings(home, config_path=str(config)))
        yield workspace
        workspace.close()
    else:
        with postgres_database() as uri:
            workspace = open_workspace(make_settings(home, store_uri=uri, config_path=str(config)))
            yield workspace
            workspace.close()


def attempt(ws: Workspace, throttle: SigninThrottle, name: str, password: str, client: str = "10.0.0.1") -> str:
    """'ok', 'wrong' or 'locked <seconds>'."""
    try:
        open_password_session(ws._transport.ctx, name, password, client, throttle)
    except TooManyAttempts as err:
        assert str(err) == LOCKED_MESSAGE
        return f"locked {err.retry_after_s}"
    except Unauthenticated:
        return "wrong"
    return "ok"


def test_five_failures_lock_a_name_out_and_the_lock_out_grows(ws: Workspace) -> None:
    ws.identity.create_user("pat", ["viewer"])
    ws.identity.set_password("pat", PASSWORD)
    clock = Clock()
    throttle = SigninThrottle(clock)

    for name, client in (("pat", "10.0.0.1"), ("nobody", "10.0.1.1")):  # an unknown name: the same
        assert [attempt(ws, throttle, name, WRONG, client) for _ in range(5)] == ["wrong"] * 5
        assert attempt(ws, throttle, name, PASSWORD, "10.0.0.2") == "locked 900"  # not even checked
    clock.advance(600)
    assert attempt(ws, throttle, "pat", PASSWORD, "10.0.0.3") == "locked 300"
    clock.advance(300)
    assert attempt(ws, throttle, "pat", PASSWORD, "10.0.0.3") == "ok"  # and its count starts again
    assert [attempt(ws, throttle, "pat", WRONG, "10.0.0.3") for _ in range(4)] == ["wrong"] * 4
    assert attempt(ws, throttle, "pat", PASSWORD, "10.0.0.3") == "ok"

    # "nobody" was never signed in: its second lock-out in a row lasts twice as long.
    assert [attempt(ws, throttle, "nobody", WRONG, "10.0.0.4") for _ in range(5)] == ["wrong"] * 5
    assert attempt(ws, throttle, "nobody", PASSWORD, "10.0.0.4") == "locked 1800"
    clock.advance(1799)
    assert attempt(ws, throttle, "nobody", WRONG, "10.0.0.4") == "locked 1"
    clock.advance(1)
    assert attempt(ws, throttle, "nobody", WRONG, "10.0.0.4") == "wrong"

    # A day without failures and the next lock-out is the first again.
    clock.advance(2 * 86_400)
    assert [attempt(ws, throttle, "nobody", WRONG, "10.0.0.5") for _ in range(5)] == ["wrong"] * 5
    assert attempt(ws, throttle, "nobody", WRONG, "10.0.0.5") == "locked 900"


def test_failures_from_one_address_lock_it_out_whatever_the_names(ws: Workspace) -> None:
    ws.identity.create_user("pat", ["viewer"])
    ws.identity.set_password("pat", PASSWORD)
    clock = Clock()
    throttle = SigninThrottle(clock)
    assert attempt(ws, throttle, "pat", WRONG, "192.0.2.7") == "wrong"
    assert attempt(ws, throttle, "pat", PASSWORD, "192.0.2.7") == "ok"  # clears pat's count, not the address's
    assert [attempt(ws, throttle, f"guess-{i}", WRONG, "192.0.2.7") for i in range(7)] == ["wrong"] * 7
    assert attempt(ws, throttle, "pat", PASSWORD, "192.0.2.7") == "locked 900"  # max_failures_per_address = 8
    assert attempt(ws, throttle, "pat", PASSWORD, "192.0.2.8") == "ok"  # another address may

    events = ws.audit.log(limit=100)
    failed = [e for e in events if e.action == "user.sign_in_failed"]
    locked = [e for e in events if e.action == "user.sign_in_locked"]
    assert len(failed) == 8 and {e.actor for e in failed} == {"anonymous"}
    assert {e.subject_id for e in failed} == {"pat"} | {f"guess-{i}" for i in range(7)}
    assert all(e.details["client"] == "192.0.2.7" for e in failed)
    assert [(e.subject_id, e.details["locked"], e.details["lockout_s"]) for e in locked] == [
        ("guess-6", "address", 900)]
    assert not any(WRONG in str(e.details) or PASSWORD in str(e.details) for e in events)


def test_the_limits_are_typed_settings(tmp_path: Path, home: Path) -> None:
    config = tmp_path / "slipway.toml"
    config.write_text("[signin]\nmax_failures = 3\nlockout_s = 60\n")
    limits = signin_settings(make_settings(home, config_path=str(config)))
    assert (limits.max_failures, limits.lockout_s, limits.window_s, limits.max_failures_per_address) == (3, 60.0, 900.0, 20)
    config.write_text('[signin]\nmax_failures = "five"\n')
    with pytest.raises(InvalidInput, match=r"signin\.max_failures"):
        signin_settings(make_settings(home, config_path=str(config)))
    config.write_text("[signin]\nmax_tries = 5\n")
    with pytest.raises(InvalidInput, match="max_tries"):
        signin_settings(make_settings(home, config_path=str(config)))
