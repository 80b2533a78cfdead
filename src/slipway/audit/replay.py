"""Replay the ledger against the rows that govern behaviour, and name every row no event explains.

Each check reads the events of its kind in order, rebuilds what the rows should hold, and
compares: model versions (existence, bundle digest, state, metrics and snapshot), aliases, risk
tiers, users and roles, and policies. A direct ``UPDATE``/``INSERT``/``DELETE`` that bypassed
the API has no event behind it and is named here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import select

from slipway.audit.checks import CheckContext
from slipway.audit.records import Problem
from slipway.core.hashing import hash_bytes
from slipway.core.snapshots import snapshot_digest
from slipway.store.schema.core import audit_events, users
from slipway.store.schema.governance import policies
from slipway.store.schema.registry import model_aliases, model_versions, registered_models


def _events(context: CheckContext, *, actions: tuple[str, ...] = (), kinds: tuple[str, ...] = ()) -> Iterator[Any]:
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


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def check_model_versions(context: CheckContext) -> list[Problem]:
    """Every version row was registered (same bundle, metrics, snapshot) and is in the state its
    last transition event left it in; every registered version still has its row."""
    registered: dict[str, tuple[int, dict[str, Any]]] = {}
    state: dict[str, tuple[int, str]] = {}
    for seq, action, ref, details in _events(context, kinds=("model_version",)):
        if action == "registry.register_version":
            registered[ref] = (seq, details)
            state[ref] = (seq, "registered")
        elif action == "model_version.transition" and "to" in details:
            state[ref] = (seq, str(details["to"]))
        elif action == "approval.request":
            state[ref] = (seq, "pending_approval")
    problems: list[Problem] = []
    rows = context.conn.execute(select(registered_models.c.name, model_versions).join(
        registered_models, registered_models.c.id == model_versions.c.model_id))
    seen = set()
    for row in rows:
        ref = f"{row.name}/{row.version}"
        seen.add(ref)
        where = f"model_version:{ref}"
        if ref not in registered:
            problems.append(Problem("model_versions", f"model version {ref} has no registration event: the row was "
                                    "inserted outside the API", subject=where))
            continue
        seq, event = registered[ref]
        if event.get("bundle_digest") != row.bundle_digest:
            problems.append(Problem("model_versions", f"model version {ref} points at bundle {row.bundle_digest[:12]}… "
                                    f"but event {seq} registered bundle {str(event.get('bundle_digest'))[:12]}…",
                                    subject=where))
        if "metrics" in event and _canonical(orjson.loads(row.metrics)) != _canonical(event["metrics"]):
            problems.append(Problem("model_versions", f"model version {ref}'s metrics differ from the metrics event "
                                    f"{seq} registered", subject=where))
        elif "snapshot_digest" in event and snapshot_digest(row.signature, row.metrics, row.params,
                                                            row.datasets) != event["snapshot_digest"]:
            problems.append(Problem("model_versions", f"model version {ref}'s signature, params or datasets differ "
                                    f"from what event {seq} registered", subject=where))
        last_seq, expected = state[ref]
        if row.state != expected:
            problems.append(Problem("model_versions", f"model version {ref} is {row.state!r} but the last event about "
                                    f"its state (event {last_seq}) left it {expected!r}", subject=where))
    for ref in sorted(set(registered) - seen):
        problems.append(Problem("model_versions", f"model version {ref} was registered (event {registered[ref][0]}) "
                                "but its row is gone", subject=f"model_version:{ref}"))
    return problems


def check_aliases(context: CheckContext) -> list[Problem]:
    """Every alias points where the last alias event pointed it, and no alias lacks an event."""
    expected: dict[tuple[str, str], tuple[int, int | None]] = {}
    for seq, action, model, details in _events(
            context, actions=("registry.set_alias", "registry.delete_alias", "model.alias.set")):
        alias = str(details.get("alias"))
        if action == "registry.set_alias":  # "version" since the registry's one alias mover; "to" before
            expected[(model, alias)] = (seq, details.get("version", details.get("to")))
        elif action == "model.alias.set":
            expected[(model, alias)] = (seq, details.get("version"))
        else:
            expected[(model, alias)] = (seq, None)
    actual = {(r.name, r.alias): r.version for r in context.conn.execute(
        select(registered_models.c.name, model_aliases.c.alias, model_aliases.c.version)
        .join(registered_models, registered_models.c.id == model_aliases.c.model_id))}
    problems = []
    for key in sorted(set(actual) | {k for k, (_, v) in expected.items() if v is not None}):
        seq, want = expected.get(key, (None, None))
        have = actual.get(key)
        if have != want:
            said = "no event set it" if seq is None else f"event {seq} left it at {want if want is not None else 'unset'}"
            problems.append(Problem("aliases", f"alias {key[0]}@{key[1]} is at "
                                    f"{have if have is not None else 'nothing'} but {said}",
                                    subject=f"registered_model:{key[0]}"))
    return problems


def check_models(context: CheckContext) -> list[Problem]:
    """Every registered model was created by an event, with the risk tier the events last gave it."""
    tiers: dict[str, tuple[int, str | None]] = {}
    for seq, action, name, details in _events(context, kinds=("registered_model", "model")):
        if action == "registry.create_model":
            tiers[name] = (seq, details.get("risk_tier"))
        elif "risk_tier" in details and name in tiers:
            tiers[name] = (seq, details["risk_tier"])
    problems = []
    for row in context.conn.execute(select(registered_models.c.name, registered_models.c.risk_tier)):
        if row.name not in tiers:
            problems.append(Problem("models", f"registered model {row.name} has no creation event",
                                    subject=f"registered_model:{row.name}"))
        elif tiers[row.name][1] is not None and tiers[row.name][1] != row.risk_tier:
            seq, tier = tiers[row.name]
            problems.append(Problem("models", f"registered model {row.name} has risk tier {row.risk_tier!r} but event "
                                    f"{seq} set {tier!r}", subject=f"registered_model:{row.name}"))
    return problems


def check_users(context: CheckContext) -> list[Problem]:
    """Every user row was created by an event and has the roles, kind and enabled state events gave it."""
    expected: dict[str, dict[str, Any]] = {}
    for seq, action, name, details in _events(context, kinds=("user",)):
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


def check_policies(context: CheckContext) -> list[Problem]:
    """Every policy revision was set by an event, with the digest of its source as stored."""
    events = {(target, int(details.get("revision", 0))): (seq, details.get("digest"))
              for seq, _, target, details in _events(context, actions=("policy.set",))}
    problems = []
    for row in context.conn.execute(select(policies)):
        key = (f"{row.scope}:{row.target}", int(row.revision))
        where = f"policy:{key[0]}#{row.revision}"
        if key not in events:
            problems.append(Problem("policies", f"policy {key[0]} revision {row.revision} has no policy.set event",
                                    subject=where))
        elif events[key][1] != row.digest or hash_bytes(row.source.encode()) != row.digest:
            problems.append(Problem("policies", f"policy {key[0]} revision {row.revision} was changed after event "
                                    f"{events[key][0]} set it", subject=where))
    return problems
