"""``audit verify``'s replay of the registry's rows: versions, aliases and risk tiers against their events."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from slipway.audit.checks import CheckContext
from slipway.audit.records import Problem
from slipway.audit.replay import canonical_json, ledger_events
from slipway.core.snapshots import snapshot_digest
from slipway.store.schema.registry import model_aliases, model_versions, registered_models


def check_model_versions(context: CheckContext) -> list[Problem]:
    """Every version row was registered (same bundle, metrics, snapshot) and is in the state its
    last transition event left it in; every registered version still has its row."""
    registered: dict[str, tuple[int, dict[str, Any]]] = {}
    state: dict[str, tuple[int, str]] = {}
    for seq, action, ref, details in ledger_events(context, kinds=("model_version",)):
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
        if "metrics" in event and canonical_json(orjson.loads(row.metrics)) != canonical_json(event["metrics"]):
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
    for seq, action, model, details in ledger_events(
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
    for seq, action, name, details in ledger_events(context, kinds=("registered_model", "model")):
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
