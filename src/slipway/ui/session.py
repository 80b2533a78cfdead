"""Sign-in, the session cookie and CSRF protection of the web UI.

A user signs in with a Slipway token, or with a user name and password when an admin set one
(:mod:`slipway.identity.passwords`: that sign-in mints a token which expires with the session and
is revoked at sign-out; failures are throttled per user name and client address by
``app.state.signin_throttle``, :mod:`slipway.identity.throttle`, answering 429 with Retry-After). The session cookie carries that token (HttpOnly, so page
scripts cannot read it; SameSite=Strict, so other sites' pages cannot send it; Secure when the
request came over TLS) and every request is authenticated by the server's own
:class:`~slipway.identity.authenticator.Authenticator`: a revoked token or a disabled user is
signed out at once, and the roles are the ones the API would see.

Every form carries a CSRF token derived from the session (an HMAC keyed by the session's token),
so a page on another origin, which can read neither, cannot forge one; every POST is refused
without it, whatever its cookie. The sign-in form, which has no session yet, is protected by a
double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import Response

from slipway.core.auth import Principal
from slipway.core.errors import PermissionDenied, Unauthenticated
from slipway.identity.authenticator import Authenticator
from slipway.identity.passwords import end_session, open_password_session
from slipway.identity.throttle import SigninThrottle

SESSION_COOKIE = "slipway_session"
SIGNIN_COOKIE = "slipway_signin"
SESSION_SECONDS = 12 * 3600
MAX_FORM_BYTES = 64 * 1024


def principal_of(request: Request) -> Principal:
    """The signed-in user, or the anonymous principal when the server allows it.

    Raises:
        Unauthenticated: no session (and no anonymous access), or its token no longer works.
    """
    auth: Authenticator = request.app.state.auth
    token = request.cookies.get(SESSION_COOKIE)
    return auth.principal_for(f"Bearer {token}" if token else None)


def csrf_token(request: Request) -> str:
    """The CSRF token of this session (empty without one: anonymous users change nothing)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return ""
    return hmac.new(token.encode(), b"slipway-ui-csrf", hashlib.sha256).hexdigest()


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a urlencoded form body (bounded; the last value of a repeated field wins)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise PermissionDenied("form too large")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in fields.items()}


def check_csrf(request: Request, form: dict[str, str]) -> None:
    """Refuse a state-changing request that did not come from one of this session's pages.

    Raises:
        PermissionDenied: no session, or the form's (or the ``X-CSRF-Token`` header's) token is
            missing or wrong.
    """
    expected = csrf_token(request)
    sent = form.get("csrf_token") or request.headers.get("x-csrf-token", "")
    if not expected or not hmac.compare_digest(expected, sent):
        raise PermissionDenied("this form has no valid CSRF token: reload the page and try again")


def signin_nonce(request: Request) -> str:
    """The sign-in form's double-submit value: the cookie's, or a new one."""
    return request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24)


def check_signin_nonce(request: Request, form: dict[str, str]) -> None:
    cookie = request.cookies.get(SIGNIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, form.get("nonce", "")):
        raise PermissionDenied("the sign-in form expired: reload the page and try again")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def sign_in(request: Request, response: Response, token: str) -> Principal:
    """Check ``token`` and start a session with it.

    Raises:
        Unauthenticated: the token is unknown, expired or revoked, or its user disabled.
    """
    token = token.strip()
    if not token:
        raise Unauthenticated("paste a Slipway token to sign in")
    auth: Authenticator = request.app.state.auth
    principal = auth.principal_for(f"Bearer {token}")
    set_cookie(request, response, SESSION_COOKIE, token, SESSION_SECONDS)
    response.delete_cookie(SIGNIN_COOKIE, path="/")
    return principal


def sign_in_with_password(request: Request, response: Response, user: str, password: str) -> None:
    """Check ``user``'s password and start a session with a token minted for it.

    Raises:
        Unauthenticated: unknown user, no password set, disabled, or a wrong password (one message).
        TooManyAttempts: too many failures for this user name or client address; not checked.
    """
    if not user.strip() or not password:
        raise Unauthenticated("give your user name and password")
    throttle: SigninThrottle = request.app.state.signin_throttle
    client = request.client.host if request.client else ""
    token = open_password_session(request.app.state.transport.ctx, user.strip(), password, client, throttle)
    set_cookie(request, response, SESSION_COOKIE, token, SESSION_SECONDS)
    response.delete_cookie(SIGNIN_COOKIE, path="/")


def sign_out(request: Request, response: Response) -> None:
    """End the session: the cookie is cleared and a password session's token revoked."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        end_session(request.app.state.transport.ctx, token)
    response.delete_cookie(SESSION_COOKIE, path="/")
