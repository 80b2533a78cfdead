"""``audit verify``'s checks of governance's rows: every policy revision against its ``policy.set``
event, and every approval, rejection and protected-alias move against its proof (a bearer token
through the server, an Ed25519 signature by the decider's registered key embedded;
:mod:`slipway.identity.proof`), decision rows included."""

from __future__ import annotations

from sqlalchemy import Connection, select

from slipway.audit.checks import CheckContext
from slipway.audit.records import Problem
from slipway.audit.replay import ledger_events
from slipway.core.hashing import hash_bytes
from slipway.identity.ledger_checks import binding_findings, key_findings, token_findings
from slipway.identity.proof import check_decision_signatures
from slipway.store.schema.governance import approval_decisions, policies


def check_policies(context: CheckContext) -> list[Problem]:
    """Every policy revision was set by an event, with the digest of its source as stored."""
    events = {(target, int(details.get("revision", 0))): (seq, details.get("digest"))
              for seq, _, target, details in ledger_events(context, actions=("policy.set", "policy.retire"))}
    problems = []
    for row in context.conn.execute(select(policies)):
        key = (f"{row.scope}:{row.target}", int(row.revision))
        where = f"policy:{key[0]}#{row.revision}"
        if key not in events:
            problems.append(Problem("policies", f"policy {key[0]} revision {row.revision} has no policy.set or policy.retire event",
                                    subject=where))
        elif events[key][1] != row.digest or hash_bytes(row.source.encode()) != row.digest:
            problems.append(Problem("policies", f"policy {key[0]} revision {row.revision} was changed after event "
                                    f"{events[key][0]} set it", subject=where))
    return problems


def decision_problems(conn: Connection) -> list[str]:
    """Every decision event or approval decision row whose proof does not hold, one line each."""
    rows = conn.execute(select(approval_decisions).order_by(approval_decisions.c.created_ms)).all()
    return check_decision_signatures(conn, rows)


def check_decisions(context: CheckContext) -> list[Problem]:
    return [Problem("decisions", message) for message in decision_problems(context.conn)]


def check_credentials(context: CheckContext) -> list[Problem]:
    """Every signing key, API token and project binding was granted by an event: a decision's proof
    is only as good as the registration of the key or token behind it (slipway.identity.ledger_checks)."""
    return [Problem(name, message, subject=subject)
            for name, findings in (("keys", key_findings), ("tokens", token_findings), ("bindings", binding_findings))
            for message, subject in findings(context.conn)]
