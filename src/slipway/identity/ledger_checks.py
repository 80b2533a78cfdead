"""``audit verify``'s replay of the credentials: signing keys, API tokens and project bindings.

A decision's proof is only as good as the registration of the key or token behind it. Someone
who can write the database could otherwise insert a key row for bob (no ``user.key_add`` event),
sign an approval with it as bob, and every other check would pass; or insert a token row, or a
binding that makes them an approver in a project. Each row here must be explained by its events
(``slipway.governance.ledger_checks:check_credentials`` runs these in ``audit verify``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.store.schema.core import api_tokens, audit_events, users
from slipway.store.schema.identity import role_bindings, user_keys

# (message, subject) of one row no event explains.
Finding = tuple[str, str]


def _events(conn: Connection, actions: tuple[str, ...]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(action, subject id, details) of the events with these actions, in ledger order."""
    c = audit_events.c
    for row in conn.execute(select(c.action, c.subject_id, c.details).where(c.action.in_(actions)).order_by(c.seq)):
        try:
            details = orjson.loads(row.details)
        except orjson.JSONDecodeError:
            continue  # the ledger check names an unreadable event
        yield row.action, row.subject_id, details if isinstance(details, dict) else {}


def key_findings(conn: Connection) -> list[Finding]:
    """Every registered signing key was added to its owner by an event, and is revoked if one revoked it."""
    added: dict[str, tuple[str, str]] = {}
    revoked: set[str] = set()
    for action, user, details in _events(conn, ("user.key_add", "user.key_revoke")):
        fingerprint = str(details.get("fingerprint"))
        if action == "user.key_add":
            added[fingerprint] = (user, str(details.get("public_key")))
        else:
            revoked.add(fingerprint)
    problems: list[Finding] = []
    query = select(user_keys.c.fingerprint, user_keys.c.public_key, user_keys.c.revoked_ms, users.c.name) \
        .join(users, users.c.id == user_keys.c.user_id)
    for row in conn.execute(query):
        want, where = added.get(row.fingerprint), f"user:{row.name}"
        if want is None or want != (row.name, row.public_key):
            problems.append((f"signing key {row.fingerprint} of {row.name} has no registration event "
                            "(or another owner or key in it): the row was written outside the API",
                            where))
        elif row.fingerprint in revoked and row.revoked_ms is None:
            problems.append((f"signing key {row.fingerprint} of {row.name} was revoked, but the row "
                            "says it is not", where))
    return problems


def token_findings(conn: Connection) -> list[Finding]:
    """Every API token was created for its user by an event, with the expiry and revocation it gave."""
    created: dict[str, tuple[str, Any]] = {}
    revoked: set[str] = set()
    legacy_bootstrap = 0  # bootstrap tokens recorded before their event named them
    actions = ("token.create", "token.revoke", "user.sign_in", "user.sign_out")  # a sign-in mints a session token
    for action, user, details in _events(conn, actions):
        if action in ("token.revoke", "user.sign_out"):
            revoked.add(str(details.get("token_id")))
        elif "token_id" in details:
            created[str(details["token_id"])] = (user, details.get("expires_ms"))
        elif details.get("description") == "bootstrap" and user == "admin":
            legacy_bootstrap += 1
    problems: list[Finding] = []
    query = select(api_tokens.c.id, api_tokens.c.description, api_tokens.c.expires_ms, api_tokens.c.revoked_ms,
                   users.c.name).join(users, users.c.id == api_tokens.c.user_id).order_by(api_tokens.c.created_ms)
    for row in conn.execute(query):
        want, where = created.get(row.id), f"user:{row.name}"
        if want is None and row.name == "admin" and row.description == "bootstrap" and legacy_bootstrap:
            legacy_bootstrap -= 1
            continue
        if want is None or want[0] != row.name:
            problems.append((f"API token {row.id} of {row.name} has no creation event for that user: "
                            "the row was written outside the API", where))
        elif want[1] != row.expires_ms:
            problems.append((f"API token {row.id} of {row.name} expires at {row.expires_ms}, but "
                                    f"its creation event gave {want[1]}", where))
        elif row.id in revoked and row.revoked_ms is None:
            problems.append((f"API token {row.id} of {row.name} was revoked, but the row says it is "
                            "not", where))
    return problems


def binding_findings(conn: Connection) -> list[Finding]:
    """Every role a user holds in a project was bound by an event and not unbound since."""
    bound: set[tuple[str, str, str]] = set()
    for action, user, details in _events(conn, ("user.bind", "user.unbind")):
        binding = (user, str(details.get("role")), str(details.get("project")))
        (bound.add if action == "user.bind" else bound.discard)(binding)
    query = select(users.c.name, role_bindings.c.role, role_bindings.c.project) \
        .join(users, users.c.id == role_bindings.c.user_id)
    return [(f"{row.name} holds {row.role} in project {row.project!r}, but no event bound it "
                    "there (or it was unbound since)", f"user:{row.name}")
            for row in conn.execute(query) if (row.name, row.role, row.project) not in bound]
