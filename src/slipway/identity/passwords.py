"""Passwords for people who sign in to the web UI, and the short-lived sessions they open.

A password is stored only as a salted scrypt hash (``hashlib.scrypt``: memory-hard, in the
standard library) in ``users.password_hash``, written as ``scrypt$n$r$p$salt$hash`` so the cost can
grow later without invalidating stored hashes. Only an admin sets one (``slipway users
set-password NAME``); the event records that it changed, never the password.

Signing in with a password (:func:`open_password_session`) mints an ordinary API token that
expires with the session (12 hours), so every request after it is authenticated exactly as a
token sign-in is, revoking or disabling takes effect the same way, and signing out revokes it
(:func:`end_session`). An unknown user, a user without a password, a disabled user and a wrong
password get the same answer after the same work, so the answer does not reveal which names exist.
Failed attempts are throttled per user name and client address (:mod:`slipway.identity.throttle`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import select

from slipway.core.auth import Principal, endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput, NotFound, Unauthenticated
from slipway.core.events import Action, Subject
from slipway.core.ids import new_id
from slipway.identity.revocations import access_changed
from slipway.identity.throttle import SigninThrottle
from slipway.store.context import ServiceContext
from slipway.store.schema.core import api_tokens, users

MIN_LENGTH, MAX_LENGTH = 12, 1024
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~16 MiB and tens of milliseconds per guess
SESSION_DESCRIPTION = "web UI session (password sign-in)"
SESSION_HOURS = 12
TOKEN_PREFIX = "slw_"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_password_policy(password: str) -> None:
    """Raises InvalidInput unless ``password`` is text of 12 to 1,024 characters."""
    if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidInput(f"a password is {MIN_LENGTH} to {MAX_LENGTH} characters long "
                           f"(got {len(password) if isinstance(password, str) else type(password).__name__})")


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password`` (``scrypt$n$r$p$salt$hash``)."""
    check_password_policy(password)
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


_DUMMY = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(b'0' * 16)}${_b64(b'0' * 32)}"


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash; the same work is done when there is none."""
    try:
        scheme, n, r, p, salt, digest = (stored or _DUMMY).split("$")
        found = hashlib.scrypt(password.encode()[:4 * MAX_LENGTH], salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                               dklen=len(_unb64(digest)))
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and stored is not None and hmac.compare_digest(found, _unb64(digest))


def open_password_session(ctx: ServiceContext, name: str, password: str, client: str = "",
                          throttle: SigninThrottle | None = None) -> str:
    """Check ``name``'s password and return a new API token that expires with the web session.

    ``client`` is the address the attempt came from; failures are counted per name and address by
    ``throttle`` (:mod:`slipway.identity.throttle`), which refuses attempts while either is locked out.

    Raises:
        TooManyAttempts: ``name`` or ``client`` is locked out (the password is not checked).
        Unauthenticated: the same message whether the user is unknown, has no password, is disabled
            or gave a wrong password.
    """
    throttle = throttle or SigninThrottle()
    name = str(name)
    throttle.check(ctx, name, client)
    with ctx.db.read() as conn:
        row = conn.execute(select(users.c.id, users.c.name, users.c.roles, users.c.kind, users.c.disabled,
                                  users.c.password_hash).where(users.c.name == str(name))).first()
    matched = verify_password(row.password_hash if row is not None else None, str(password))
    if row is None or not matched or row.disabled:
        throttle.failed(ctx, name, client)
        raise Unauthenticated("the user name or the password is wrong")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    created = now_ms()
    expires = created + SESSION_HOURS * 3_600_000
    me = ctx.as_principal(Principal(row.name, frozenset(), row.kind))  # the event's actor is the user
    with ctx.db.write() as conn:
        token_id = new_id()
        conn.execute(api_tokens.insert().values(
            id=token_id, user_id=row.id, token_hash=hashlib.sha256(token.encode()).hexdigest(), prefix=token[:10],
            description=SESSION_DESCRIPTION, created_ms=created, expires_ms=expires))
        throttle.succeeded(ctx, conn, name)
        me.audit(conn, Action.USER_SIGN_IN, Subject.USER, row.name, {"token_id": token_id, "expires_ms": expires})
    return token


def end_session(ctx: ServiceContext, token: str) -> bool:
    """Revoke the token of a password session (signing out); a pasted API token is left alone.
    Returns whether a session was ended."""
    hashed = hashlib.sha256(token.encode()).hexdigest()
    with ctx.db.write() as conn:
        row = conn.execute(select(api_tokens.c.id, api_tokens.c.revoked_ms, users.c.name, users.c.kind)
                           .join(users, users.c.id == api_tokens.c.user_id)
                           .where(api_tokens.c.token_hash == hashed,
                                  api_tokens.c.description == SESSION_DESCRIPTION)).first()
        if row is None or row.revoked_ms is not None:
            return False
        conn.execute(api_tokens.update().where(api_tokens.c.id == row.id).values(revoked_ms=now_ms()))
        ctx.as_principal(Principal(row.name, frozenset(), row.kind)).audit(
            conn, Action.USER_SIGN_OUT, Subject.USER, row.name, {"token_id": row.id})
    access_changed()
    return True


class PasswordEndpoints:
    ctx: ServiceContext

    @endpoint("admin")
    def set_password(self, user: str, password: str) -> None:
        """Set (or replace) the password ``user`` signs in to the web UI with; stored as a salted
        scrypt hash. Passwords are 12 to 1,024 characters."""
        hashed = hash_password(password)
        with self.ctx.db.write() as conn:
            if conn.execute(select(users.c.id).where(users.c.name == user)).first() is None:
                raise NotFound(f"user {user!r} does not exist")
            conn.execute(users.update().where(users.c.name == user).values(password_hash=hashed))
            self.ctx.audit(conn, Action.USER_SET_PASSWORD, Subject.USER, user, {"scheme": "scrypt"})
