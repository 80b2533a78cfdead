"""Who embedded mode acts as.

The acting user is the operating-system user running the process. ``SLIPWAY_USER`` may name a
different user only together with a credential: ``SLIPWAY_SIGNING_KEY`` pointing at a private key
registered to that user (so knowing a name is not enough; holding their key is). A user with no
row has no roles. A new store with no users at all enrols the first operating-system user to open
it as its admin (bootstrap), so a fresh laptop install works at once.
"""

from __future__ import annotations

import orjson
from sqlalchemy.exc import IntegrityError

from slipway.core.auth import Principal
from slipway.core.clock import now_ms
from slipway.core.environment import os_user
from slipway.core.errors import Unauthenticated
from slipway.core.events import Action, Subject
from slipway.core.ids import new_id
from slipway.core.settings import Settings
from slipway.identity.keys import FileSigner
from slipway.identity.projects import project_bindings
from slipway.identity.registry import key_owner, user_count, user_row
from slipway.store.database import Database
from slipway.store.ledger import append_event
from slipway.store.schema.core import users


def bootstrap_first_user(db: Database, name: str, roles: tuple[str, ...]) -> bool:
    """Enrol ``name`` with ``roles`` if the store has no users at all; True if it did."""
    with db.read() as conn:
        if user_count(conn):
            return False
    roles_list = sorted(set(roles)) or ["admin"]
    try:
        with db.write() as conn:
            if user_count(conn):
                return False
            conn.execute(users.insert().values(id=new_id(), name=name, kind="user", roles=orjson.dumps(roles_list).decode(),
                                               email=None, disabled=False, created_ms=now_ms()))
            append_event(conn, name, Action.USER_BOOTSTRAP, Subject.USER, name,
                         {"roles": roles_list, "reason": "first operating-system user to open a new store"})
    except IntegrityError:  # another process enrolled the same user first
        return False
    return True


def local_identity(db: Database, settings: Settings) -> tuple[Principal, FileSigner | None]:
    """The principal embedded mode acts as, and the signer for its decisions (if a key is set; a
    key registered to someone else signs nothing, which the decision then says).

    Raises:
        Unauthenticated: ``SLIPWAY_USER`` names someone other than the operating-system user and
            no signing key registered to that user is configured.
        InvalidInput: the configured signing key cannot be read.
    """
    me = os_user()
    wanted = settings.user or me
    signer = FileSigner(settings.signing_key) if settings.signing_key else None
    bootstrap_first_user(db, me, settings.local_roles)
    with db.read() as conn:
        owner = key_owner(conn, signer.fingerprint) if signer else None
        row = user_row(conn, wanted)
        bindings = project_bindings(conn, row.id) if row is not None and not row.disabled else ()
    if wanted != me and owner != wanted:
        have = f"the key {signer.fingerprint} is " + (f"{owner}'s" if owner else "not registered") if signer else \
            "no signing key is set"
        raise Unauthenticated(
            f"you are {me!r} on this machine; acting as {wanted!r} (SLIPWAY_USER) needs a signing key registered "
            f"to {wanted!r} in SLIPWAY_SIGNING_KEY, and {have}. Unset SLIPWAY_USER to act as yourself")
    if row is None or row.disabled:  # unknown users and disabled (offboarded) ones get no role
        return Principal(wanted, frozenset(), row.kind if row is not None else "user"), signer
    return Principal(row.name, frozenset(orjson.loads(row.roles)), row.kind, bindings), signer
