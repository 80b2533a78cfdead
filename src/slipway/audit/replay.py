"""Replay the ledger against the rows that govern behaviour, and name every row no event explains.

Each check reads the events of its kind in order, rebuilds what the rows should hold, and
compares. A direct ``UPDATE``/``INSERT``/``DELETE`` that bypassed the API has no event behind it
and is named. This module holds the shared reader (:func:`ledger_events`) and the users check;
each domain replays its own tables beside them (``slipway.registry.ledger_checks``: versions,
aliases, risk tiers; ``slipway.governance.ledger_checks``: policies), listed in
``slipway.audit.checks.CHECK_PATHS``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import select

from slipway.audit.checks import CheckContext
from slipway.audit.records import Problem
from slipway.store.schema.core import audit_events, users


def ledger_events(context: CheckContext, *, actions: tuple[str, ...] = (), kinds: tuple[str, ...] = ()) -> Iterator[Any]:
    c = audit_events.c
    query = select(c.seq, c.action, c.subject_kind, c.subject_id, c.details).order_by(c.seq)
    if actions:
        query = query.where(c.action.in_(actions))
    if kinds:
        query = query.where(c.subject_kind.in_(kinds))
    for row in context.conn.execute(query):
        try:
            details = orjson.loads(row.details)
        except orjson.JSONDecodeError:
            continue  # the ledger check names an unreadable event
        yield row.seq, row.action, row.subject_id, details if isinstance(details, dict) else {}


def canonical_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def check_users(context: CheckContext) -> list[Problem]:
    """Every user row was created by an event and has the roles, kind and enabled state events gave it."""
    expected: dict[str, dict[str, Any]] = {}
    for seq, action, name, details in ledger_events(context, kinds=("user",)):
        if action in ("user.create", "user.bootstrap"):  # bootstrap: the first OS user of a new store
            expected[name] = {"seq": seq, "disabled": False, "kind": "user"}
        if name not in expected:
            continue
        user = expected[name]
        user["seq"] = seq
        if "roles" in details:
            user["roles"] = sorted(str(r) for r in details["roles"])
        if "kind" in details:
            user["kind"] = details["kind"]
        if action.endswith(".disable") or action.endswith(".enable"):
            user["disabled"] = action.endswith(".disable")
    problems = []
    for row in context.conn.execute(select(users.c.name, users.c.roles, users.c.kind, users.c.disabled)):
        want = expected.get(row.name)
        where = f"user:{row.name}"
        if want is None:
            problems.append(Problem("users", f"user {row.name} (roles {row.roles}) has no creation event: the row was "
                                    "inserted outside the API", subject=where))
            continue
        roles = sorted(orjson.loads(row.roles)) if row.roles else []
        if "roles" in want and roles != want["roles"]:
            problems.append(Problem("users", f"user {row.name} has roles {roles} but event {want['seq']} gave "
                                    f"{want['roles']}", subject=where))
        if "kind" in want and row.kind != want["kind"]:
            problems.append(Problem("users", f"user {row.name} is a {row.kind!r} but was created as a "
                                    f"{want['kind']!r}", subject=where))
        if bool(row.disabled) != want["disabled"]:
            problems.append(Problem("users", f"user {row.name} is {'disabled' if row.disabled else 'enabled'} but the "
                                    "events left it the other way", subject=where))
    return problems
