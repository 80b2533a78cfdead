"""Passwords for the web UI: stored only as a salted scrypt hash, set by an admin (API and CLI),
checked without revealing which user names exist; a password sign-in mints a token that expires
with the session and is revoked at sign-out. The same on SQLite, PostgreSQL and through the server."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.support import make_settings

from slipway.core.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from slipway.identity.passwords import (
    SESSION_DESCRIPTION,
    end_session,
    hash_password,
    open_password_session,
    verify_password,
)
from slipway.identity.users import authenticate
from slipway.store.schema.core import users
from slipway.workspace import Workspace, open_workspace

PASSWORD = "correct horse battery staple"


def test_a_hash_is_salted_and_checks_only_its_password() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second and first.startswith("scrypt$16384$8$1$") and PASSWORD not in first
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)
    assert not verify_password(first, PASSWORD + " ") and not verify_password(None, PASSWORD)
    assert not verify_password("md5$nonsense", PASSWORD)
    for bad in ("short", "x" * 1025):
        with pytest.raises(InvalidInput, match="12 to 1024 characters"):
            hash_password(bad)


def test_an_admin_sets_a_password_and_it_is_stored_hashed(workspace: Workspace) -> None:
    ws = workspace
    ws.identity.create_user("pat", ["viewer"])
    ws.identity.set_password("pat", PASSWORD)
    with pytest.raises(NotFound, match="'nobody'"):
        ws.identity.set_password("nobody", PASSWORD)
    with pytest.raises(InvalidInput):
        ws.identity.set_password("pat", "too short")
    assert ws.audit.log(limit=1)[0].action == "user.set_password"
    assert PASSWORD not in str(ws.audit.log(limit=1)[0].details)


def test_only_an_admin_may_set_a_password(home: Path) -> None:
    admin = open_workspace(make_settings(home))
    admin.identity.create_user("pat", ["developer"])
    admin.close()
    pat = open_workspace(make_settings(home, user="pat"))
    try:
        with pytest.raises(PermissionDenied):
            pat.identity.set_password("pat", PASSWORD)
    finally:
        pat.close()


def test_a_password_session_is_a_token_that_sign_out_revokes(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ctx, db = ws._transport.ctx, ws._transport.ctx.db
    ws.identity.create_user("pat", ["approver"])
    ws.identity.create_user("dan", ["viewer"])
    ws.identity.set_password("pat", PASSWORD)
    with db.read() as conn:
        stored = conn.execute(select(users.c.password_hash).where(users.c.name == "pat")).scalar_one()
    assert stored.startswith("scrypt$") and PASSWORD not in stored

    wrong = []
    for name, password in (("pat", "wrong password!!"), ("nobody", PASSWORD), ("dan", PASSWORD)):
        with pytest.raises(Unauthenticated) as err:
            open_password_session(ctx, name, password)
        wrong.append(str(err.value))
    assert len(set(wrong)) == 1  # the same answer: nothing says which names exist

    token = open_password_session(ctx, "pat", PASSWORD)
    principal = authenticate(db, token)
    assert principal.name == "pat" and principal.roles == frozenset({"approver"})
    [session] = [t for t in ws.identity.list_tokens("pat") if t.description == SESSION_DESCRIPTION]
    assert session.expires_ms is not None and session.expires_ms - session.created_ms == 12 * 3_600_000
    sign_in = ws.audit.log(limit=1)[0]
    assert (sign_in.action, sign_in.actor) == ("user.sign_in", "pat")

    assert end_session(ctx, token) and not end_session(ctx, token)
    with pytest.raises(Unauthenticated, match="revoked"):
        authenticate(db, token)
    issued = ws.identity.create_token("pat", "a pasted API token")
    assert not end_session(ctx, issued.token)  # signing out never revokes a token someone pasted
    assert authenticate(db, issued.token).name == "pat"

    ws.identity.set_disabled("pat", True)
    with pytest.raises(Unauthenticated, match="the user name or the password is wrong"):
        open_password_session(ctx, "pat", PASSWORD)


def test_the_cli_sets_a_password_from_stdin_or_refuses_a_short_one(cli: Callable[..., tuple[int, str, str]],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("users", "create", "pat", "--role", "viewer")[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, _ = cli("users", "set-password", "pat", "--password-stdin")
    assert code == 0 and "Password set for pat" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = cli("users", "set-password", "pat", "--password-stdin")
    assert code == 2 and "12 to 1024 characters" in err
