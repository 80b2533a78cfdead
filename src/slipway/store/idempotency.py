"""Exactly-once write calls: a key claimed in the call's own transaction, its response kept.

:func:`claim` runs first inside :meth:`Database.request`'s transaction. On PostgreSQL a second
call with the same key (a retry sent to another server while the first is still running) waits
on the key's unique index until the first commits, then finds its response; on SQLite write
transactions are serialised anyway. If the first call fails, its transaction (key included) rolls
back and the retry runs the call afresh.

Responses can hold what is shown once (a new token, a webhook secret), so neither the key nor the
response is stored in the clear: the row is found by a hash of the key and the response is sealed
(Fernet) with a key derived from the idempotency key, which only the caller holds. A copy of the
database reveals no response.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import blake3
from cryptography.fernet import Fernet
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
    row_id = _row_id(key)
    try:
        with conn.begin_nested():
            conn.execute(keys.insert().values(key=row_id, principal=principal, endpoint=endpoint,
                                              request_digest=request_digest, response=None, created_ms=now_ms()))
        return None
    except SqlIntegrityError:
        pass
    row = conn.execute(select(keys).where(keys.c.key == row_id)).one()
    if (row.principal, row.endpoint, row.request_digest) != (principal, endpoint, request_digest):
        raise InvalidInput(f"Idempotency-Key {key!r} was already used for another call; use a new key per call")
    if row.response is None:
        raise Conflict(f"the call with Idempotency-Key {key!r} committed without a response")
    return _box(key).decrypt(bytes(row.response))


def record(conn: Connection, key: str, response: bytes) -> None:
    conn.execute(update(keys).where(keys.c.key == _row_id(key)).values(response=_box(key).encrypt(response)))


def release(conn: Connection, key: str) -> None:
    conn.execute(keys.delete().where(keys.c.key == _row_id(key)))


def _row_id(key: str) -> str:
    return blake3.blake3(key.encode(), derive_key_context="slipway 2026 idempotency key row").hexdigest()


def _box(key: str) -> Fernet:
    secret = blake3.blake3(key.encode(), derive_key_context="slipway 2026 idempotency response").digest()
    return Fernet(base64.urlsafe_b64encode(secret))


def exactly_once(db: Database, key: str, principal: str, endpoint: str, body: bytes,
                 call: Callable[[], bytes]) -> bytes:
    """Run ``call`` (which returns the response body) once per ``key``, in one transaction with
    the key's record; a repeat of the key gets the first response back without running it."""
    failure: BaseException | None = None
    with db.request() as conn:
        kept = claim(conn, key, principal, endpoint, hash_bytes(body))
        if kept is not None:
            return kept
        try:
            response = call()
        except Exception as err:  # noqa: BLE001 - raised below, after the commit
            # As in embedded mode, what the call committed before it failed stays (a refused
            # transition records its failed policy check, then raises); the failing write's own
            # savepoint is already rolled back. The key is released: a retry runs the call again.
            failure = err
            release(conn, key)
        else:
            record(conn, key, response)
    if failure is not None:
        raise failure
    return response
