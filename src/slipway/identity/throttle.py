"""Throttling failed password sign-ins, so a password cannot be guessed through the sign-in form.

Failures are counted per user name (whether or not such a user exists, so the answer reveals
nothing) and per client address, in the ``signin_failures`` table: every server process over the
database sees the same counts, on SQLite and PostgreSQL alike. After ``max_failures`` wrong
passwords for a name (``max_failures_per_address`` from an address) within ``window_s``, that
name (address) is locked out for ``lockout_s``; each further lock-out in a row doubles the period,
up to ``max_lockout_s`` (``[signin]`` of the config file, :mod:`slipway.identity.settings`).
While locked out, an attempt is refused with :class:`~slipway.core.errors.TooManyAttempts` (HTTP
429 and ``Retry-After``) before the password is even checked, with the same message for every
name. A successful sign-in clears its name's count (not its address's: an attacker's own account
must not reset the count of the address it guesses from).

Every failure is audited (``user.sign_in_failed``, the name tried and the client address, never
the password) and so is every lock-out (``user.sign_in_locked``, with its period). Time is read
from :attr:`SigninThrottle.clock` (epoch milliseconds), which a test replaces.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from slipway.core.auth import Principal
from slipway.core.clock import now_ms
from slipway.core.errors import TooManyAttempts
from slipway.core.events import Action, Subject
from slipway.identity.settings import SigninSettings, signin_settings
from slipway.store.context import ServiceContext
from slipway.store.schema.identity import signin_failures
from slipway.store.upsert import insert_ignore

LOCKED_MESSAGE = "too many failed sign-ins: wait and try again later"
MAX_KEY_TEXT = 200


def _key(kind: str, value: str) -> str:
    """The row's key; a very long name is keyed by its digest (the column is bounded)."""
    if len(value) > MAX_KEY_TEXT:
        value = "#" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
    return f"{kind}:{value}"


class SigninThrottle:
    """Counts failed sign-ins and refuses attempts while a name or address is locked out."""

    def __init__(self, clock: Callable[[], int] = now_ms) -> None:
        self.clock = clock

    def _keys(self, name: str, client: str) -> list[tuple[str, str]]:
        keys = [("user", _key("user", name))]
        if client:
            keys.append(("address", _key("address", client)))
        return keys

    def check(self, ctx: ServiceContext, name: str, client: str) -> None:
        """Refuse the attempt, untried, while ``name`` or ``client`` is locked out.

        Raises:
            TooManyAttempts: locked out; ``retry_after_s`` says for how much longer.
        """
        now = self.clock()
        keys = [key for _, key in self._keys(name, client)]
        with ctx.db.read() as conn:
            until = max((row.locked_until_ms or 0 for row in conn.execute(
                select(signin_failures.c.locked_until_ms).where(signin_failures.c.key.in_(keys)))), default=0)
        if until > now:
            raise TooManyAttempts(LOCKED_MESSAGE, math.ceil((until - now) / 1000))

    def failed(self, ctx: ServiceContext, name: str, client: str) -> None:
        """Count a wrong password (or unknown user) for ``name`` and ``client``; audit it, and lock
        out whichever reached its limit."""
        settings = signin_settings(ctx.settings)
        now = self.clock()
        anonymous = ctx.as_principal(Principal("anonymous", frozenset()))
        with ctx.db.write() as conn:
            counts: dict[str, int] = {}
            for kind, key in self._keys(name, client):
                limit = settings.max_failures if kind == "user" else settings.max_failures_per_address
                counts[kind], locked_ms = _count_failure(conn, key, limit, now, settings)
                if locked_ms:
                    anonymous.audit(conn, Action.USER_SIGN_IN_LOCKED, Subject.USER, name,
                                    {"locked": kind, "client": client, "lockout_s": locked_ms // 1000})
            anonymous.audit(conn, Action.USER_SIGN_IN_FAILED, Subject.USER, name,
                            {"client": client, "failures": counts["user"]})

    def succeeded(self, ctx: ServiceContext, conn: Connection, name: str) -> None:
        """Clear ``name``'s count (in the sign-in's own transaction ``conn``)."""
        conn.execute(signin_failures.delete().where(signin_failures.c.key == _key("user", name)))


def _count_failure(conn: Connection, key: str, limit: int, now: int, settings: SigninSettings) -> tuple[int, int]:
    """Add a failure to ``key``'s window; returns (failures in the window, the lock-out in ms if
    this failure started one, else 0)."""
    insert_ignore(conn, signin_failures, [{"key": key, "failures": 0, "window_start_ms": now, "lockouts": 0,
                                          "locked_until_ms": None}], ["key"])
    query = select(signin_failures).where(signin_failures.c.key == key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # two servers counting the same key: one after the other
    row = conn.execute(query).one()
    window_ms, max_lockout_ms = int(settings.window_s * 1000), int(settings.max_lockout_s * 1000)
    failures, start, lockouts = row.failures, row.window_start_ms, row.lockouts
    if now - start >= window_ms:  # a new window
        failures, start = 0, now
        if row.locked_until_ms is None or now - row.locked_until_ms >= max_lockout_ms:
            lockouts = 0  # quiet for long enough: the next lock-out is the first again
    failures += 1
    values: dict[str, Any] = {"failures": failures, "window_start_ms": start, "lockouts": lockouts}
    locked_ms = 0
    if failures >= max(1, limit):
        locked_ms = min(int(settings.lockout_s * 1000) * 2 ** min(lockouts, 30), max_lockout_ms)
        values.update(failures=0, window_start_ms=now, lockouts=lockouts + 1, locked_until_ms=now + locked_ms)
    conn.execute(signin_failures.update().where(signin_failures.c.key == key).values(**values))
    return failures, locked_ms
