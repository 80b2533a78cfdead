"""Exactly-once write calls: a key claimed in the call's own transaction, its response kept.

:func:`claim` runs first inside :meth:`Database.request`'s transaction. On PostgreSQL a second
call with the same key (a retry sent to another server while the first is still running) waits
on the key's unique index until the first commits, then finds its response; on SQLite write
transactions are serialised anyway. If the first call fails, its transaction (key included) rolls
back and the retry runs the call afresh.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput
from slipway.core.hashing import hash_bytes
from slipway.store.database import Database
from slipway.store.schema.idempotency import idempotency_keys as keys

MAX_KEY = 200


def claim(conn: Connection, key: str, principal: str, endpoint: str, request_digest: str) -> bytes | None:
    """Claim ``key`` for this call, or return the response of the call that already claimed it.

    Raises:
        InvalidInput: the key is empty or longer than 200 characters, or was used by another
            caller, for another endpoint or with other arguments.
        Conflict: the call that claimed the key committed without a response (cannot happen
            through :mod:`slipway.server.app`, which records one in the same transaction).
    """
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise InvalidInput(f"an Idempotency-Key is 1 to {MAX_KEY} printable characters")
    try:
        with conn.begin_nested():
            conn.execute(keys.insert().values(key=key, principal=principal, endpoint=endpoint,
                                              request_digest=request_digest, response=None, created_ms=now_ms()))
        return None
    except SqlIntegrityError:
        pass
    row = conn.execute(select(keys).where(keys.c.key == key)).one()
    if (row.principal, row.endpoint, row.request_digest) != (principal, endpoint, request_digest):
        raise InvalidInput(f"Idempotency-Key {key!r} was already used for another call; use a new key per call")
    if row.response is None:
        raise Conflict(f"the call with Idempotency-Key {key!r} committed without a response")
    return bytes(row.response)


def record(conn: Connection, key: str, response: bytes) -> None:
    conn.execute(update(keys).where(keys.c.key == key).values(response=response))


def exactly_once(db: Database, key: str, principal: str, endpoint: str, body: bytes,
                 call: Callable[[], bytes]) -> bytes:
    """Run ``call`` (which returns the response body) once per ``key``, in one transaction with
    the key's record; a repeat of the key gets the first response back without running it."""
    with db.request() as conn:
        kept = claim(conn, key, principal, endpoint, hash_bytes(body))
        if kept is not None:
            return kept
        response = call()
        record(conn, key, response)
        return response
