"""Identity endpoints for users' signing keys: an admin registers a user's Ed25519 public key; the
user signs embedded-mode decisions with the private key (see :mod:`slipway.identity.proof`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import AlreadyExists, InvalidInput, NotFound
from slipway.core.events import Action, Subject
from slipway.core.ids import new_id
from slipway.core.records import record
from slipway.identity.keys import parse_public_key
from slipway.identity.registry import key_row, user_row
from slipway.identity.revocations import access_changed
from slipway.store.context import ServiceContext
from slipway.store.schema.core import users
from slipway.store.schema.identity import user_keys


@record
class UserKey:
    user: str
    fingerprint: str
    public_key: str
    added_by: str
    created_ms: int
    revoked_ms: int | None


def _key(row: object) -> UserKey:
    r: Any = row
    return UserKey(r.owner, r.fingerprint, r.public_key, r.added_by, r.created_ms, r.revoked_ms)


class KeyEndpoints:
    ctx: ServiceContext

    @endpoint("admin")
    def add_key(self, user: str, public_key: str) -> UserKey:
        """Register an Ed25519 public key (``ssh-ed25519 AAAA…``) to ``user``. A key belongs to one
        user only, so one person's key can never sign as another."""
        if not isinstance(public_key, str):
            raise InvalidInput("public_key must be the text of an OpenSSH public key")
        text, fingerprint = parse_public_key(public_key)
        with self.ctx.db.write() as conn:
            owner = user_row(conn, user)
            if owner is None:
                raise NotFound(f"user {user!r} does not exist")
            existing = key_row(conn, fingerprint)
            if existing is not None:
                raise AlreadyExists(f"key {fingerprint} is already registered to {existing.owner}")
            conn.execute(user_keys.insert().values(id=new_id(), user_id=owner.id, fingerprint=fingerprint,
                                                   public_key=text, added_by=self.ctx.principal.name,
                                                   created_ms=now_ms()))
            self.ctx.audit(conn, Action.USER_KEY_ADD, Subject.USER, user, {"fingerprint": fingerprint, "public_key": text})
            return _key(key_row(conn, fingerprint))

    @endpoint("admin")
    def revoke_key(self, fingerprint: str) -> UserKey:
        """Revoke a key: it signs nothing from now on; what it signed before still verifies."""
        with self.ctx.db.write() as conn:
            row = key_row(conn, fingerprint)
            if row is None:
                raise NotFound(f"no key {fingerprint!r} is registered")
            if row.revoked_ms is None:
                conn.execute(user_keys.update().where(user_keys.c.fingerprint == fingerprint)
                             .values(revoked_ms=now_ms()))
                self.ctx.audit(conn, Action.USER_KEY_REVOKE, Subject.USER, row.owner, {"fingerprint": fingerprint})
            found = _key(key_row(conn, fingerprint))
        access_changed()
        return found

    @endpoint("read")
    def list_keys(self, user: str | None = None) -> list[UserKey]:
        """Registered keys (revoked ones too, with ``revoked_ms``), oldest first."""
        query = select(user_keys, users.c.name.label("owner")).join(users, users.c.id == user_keys.c.user_id)
        if user:
            query = query.where(users.c.name == user)
        with self.ctx.db.read() as conn:
            return [_key(r) for r in conn.execute(query.order_by(user_keys.c.created_ms))]
