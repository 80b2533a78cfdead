"""Evaluating a version against its policy, and storing the signed result."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput
from slipway.core.hashing import hash_bytes
from slipway.core.ids import new_id
from slipway.core.settings import Settings
from slipway.governance.evidence import approvals_of, card_sections, data_validation, latest_fairness_summary
from slipway.governance.policy import Limit, Policy, parse_policy, within
from slipway.governance.records import CheckResult, PolicyInfo, RequirementOutcome
from slipway.governance.signing import sign, signing_secret, verify
from slipway.store.schema.governance import approval_requests, policies, policy_checks


def current_policy(conn: Connection, model: str, risk_tier: str) -> PolicyInfo | None:
    """The model's own policy if it has one, else its risk tier's; the newest revision wins (one
    with an empty source is a retired policy: none for that scope)."""
    for scope, target in (("model", model), ("tier", risk_tier)):
        row = conn.execute(
            select(policies).where(policies.c.scope == scope, policies.c.target == target)
            .order_by(policies.c.revision.desc()).limit(1)
        ).first()
        if row is not None and row.source:
            return PolicyInfo(row.scope, row.target, row.revision, row.digest, row.source, row.created_by, row.created_ms)
    return None


def _policy_info(row: Any) -> PolicyInfo:
    return PolicyInfo(row.scope, row.target, row.revision, row.digest, row.source, row.created_by, row.created_ms)


def fixed_terms(conn: Connection, model: str, version: int) -> tuple[str | None, PolicyInfo | None, str | None]:
    """The risk tier and policy fixed on a version by its first approval request (None, None, None
    before any), and that policy's id."""
    first = conn.execute(
        select(approval_requests.c.risk_tier, approval_requests.c.policy_id)
        .where(approval_requests.c.model == model, approval_requests.c.version == version,
               approval_requests.c.risk_tier.is_not(None))
        .order_by(approval_requests.c.created_ms).limit(1)
    ).first()
    if first is None:
        return None, None, None
    row = conn.execute(select(policies).where(policies.c.id == first.policy_id)).first() if first.policy_id else None
    return first.risk_tier, (_policy_info(row) if row else None), first.policy_id


def current_policy_id(conn: Connection, info: PolicyInfo | None) -> str | None:
    if info is None:
        return None
    return conn.execute(select(policies.c.id).where(policies.c.scope == info.scope, policies.c.target == info.target,
                                                    policies.c.revision == info.revision)).scalar()


def governing_policies(conn: Connection, model: str, version: int, risk_tier: str) -> list[PolicyInfo]:
    """The policies a version must pass: the one fixed on it when approval was first requested and
    the current one (model's, else its tier's) if different, so later edits can tighten the
    requirements of a requested version but never loosen them."""
    _, fixed, _ = fixed_terms(conn, model, version)
    current = current_policy(conn, model, risk_tier)
    found = [p for p in (fixed, current) if p is not None]
    return [p for i, p in enumerate(found) if p.digest not in {q.digest for q in found[:i]}]


def _metric_outcomes(limits: tuple[Limit, ...], metrics: dict[str, Any]) -> list[RequirementOutcome]:
    outcomes = []
    for limit in limits:
        name = f"metrics.{limit.key} {limit.describe()}"
        value = metrics.get(limit.key)
        if not isinstance(value, int | float):
            outcomes.append(RequirementOutcome(name, False, f"the version has no metric {limit.key!r}"))
        else:
            ok = within(float(value), limit)
            outcomes.append(RequirementOutcome(name, ok, f"{limit.key} = {float(value):.4g}"))
    return outcomes


def _fairness_outcomes(limits: tuple[Limit, ...], summary: dict[str, Any] | None) -> list[RequirementOutcome]:
    outcomes = []
    for limit in limits:
        name = f"fairness.{limit.key} {limit.describe()}" + (f" ({limit.attribute})" if limit.attribute else "")
        if summary is None:
            outcomes.append(RequirementOutcome(name, False, "no fairness report for this version; run 'governance fairness'"))
            continue
        attributes = [limit.attribute] if limit.attribute else sorted(summary)
        missing = [a for a in attributes if a not in summary]
        if missing or not attributes:
            outcomes.append(RequirementOutcome(name, False, f"the fairness report does not cover {missing or 'any attribute'}"))
            continue
        values_by = {a: _number(summary[a].get(limit.key)) for a in attributes}
        bad = [f"{a} = {v:.4g}" for a, v in values_by.items() if not within(v, limit)]
        values = ", ".join(f"{a} = {v:.4g}" for a, v in values_by.items())
        outcomes.append(RequirementOutcome(name, not bad, ("violated by " + ", ".join(bad)) if bad else values))
    return outcomes


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def evaluate(conn: Connection, version: Any, target_state: str, pending_approvals: int = 0) -> tuple[PolicyInfo | None, list[RequirementOutcome]]:
    """Every requirement of the version's policy that applies to ``target_state``, evaluated."""
    infos = governing_policies(conn, version.model_name, version.version, version.risk_tier)
    if not infos:
        return None, []
    outcomes: list[RequirementOutcome] = []
    for info in infos:
        for outcome in _evaluate_policy(conn, version, parse_policy(info.source), target_state, pending_approvals):
            if outcome not in outcomes:
                outcomes.append(outcome)
    return infos[0], outcomes


def _evaluate_policy(conn: Connection, version: Any, policy: Policy, target_state: str,
                     pending_approvals: int) -> list[RequirementOutcome]:
    if target_state not in policy.applies_to:
        return []
    model, number = version.model_name, version.version
    outcomes = _metric_outcomes(policy.metrics, orjson.loads(version.metrics or "{}"))
    outcomes += _fairness_outcomes(policy.fairness, latest_fairness_summary(conn, model, number))
    if policy.card_sections:
        filled = {k for k, v in card_sections(conn, model, number).items() if v["text"].strip()}
        missing = [s for s in policy.card_sections if s not in filled]
        outcomes.append(RequirementOutcome(
            "model_card.required_sections " + ",".join(policy.card_sections), not missing,
            f"empty sections: {', '.join(missing)}" if missing else "all filled"))
    if policy.data_validation:
        ok, detail = data_validation(conn, orjson.loads(version.datasets or "[]"))
        outcomes.append(RequirementOutcome("data_validation passed", ok, detail))
    if policy.approvals and target_state in ("approved", "deployed"):
        count, _ = approvals_of(conn, model, number)
        count += pending_approvals
        outcomes.append(RequirementOutcome(f"approvals >= {policy.approvals}", count >= policy.approvals,
                                           f"{count} approval(s)"))
    return outcomes


def store_check(conn: Connection, settings: Settings, actor: str, model: str, number: int, target_state: str,
                info: PolicyInfo | None, outcomes: list[RequirementOutcome]) -> CheckResult:
    """Sign and store the evaluation; returns the stored result."""
    passed = all(o.passed for o in outcomes)
    created = now_ms()
    digest = info.digest if info else None
    body: dict[str, Any] = {
        "model": model, "version": number, "target_state": target_state, "passed": passed,
        "policy_digest": digest,
        "outcomes": [[o.requirement, o.passed, o.detail] for o in outcomes], "checked_by": actor, "created_ms": created,
    }
    signature = sign(signing_secret(settings), body)
    check_id = new_id()
    conn.execute(policy_checks.insert().values(
        id=check_id, model=model, version=number, target_state=target_state, passed=passed,
        policy_digest=body["policy_digest"], results=orjson.dumps(body["outcomes"]).decode(), signature=signature,
        checked_by=actor, created_ms=created))
    policy_name = f"{info.scope}:{info.target}@{info.revision}" if info else None
    return CheckResult(check_id, model, number, target_state, passed, policy_name, digest,
                       outcomes, signature, actor, created)


def verify_stored_check(conn: Connection, settings: Settings, check_id: str) -> bool:
    """Re-compute a stored result's signature; False if any field was edited after signing."""
    row = conn.execute(select(policy_checks).where(policy_checks.c.id == check_id)).first()
    if row is None:
        raise InvalidInput(f"no policy check {check_id!r}")
    body = {
        "model": row.model, "version": row.version, "target_state": row.target_state, "passed": bool(row.passed),
        "policy_digest": row.policy_digest, "outcomes": orjson.loads(row.results), "checked_by": row.checked_by,
        "created_ms": row.created_ms,
    }
    return verify(signing_secret(settings), body, row.signature)


def failure_message(result: CheckResult) -> str:
    lines = "; ".join(f"{o.requirement}: {o.detail}" for o in result.failures)
    return f"policy {result.policy} blocks {result.model}/{result.version} -> {result.target_state}: {lines}"


def policy_digest(source: str) -> str:
    return hash_bytes(source.encode())
