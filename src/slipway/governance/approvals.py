"""Approval requests and decisions (the four-eyes rule), on a caller's transaction."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.core.errors import InvalidInput
from slipway.core.events import Action, Subject
from slipway.core.settings import Settings
from slipway.governance.records import ApprovalRequest, Decision
from slipway.governance.settings import governance_settings
from slipway.store.context import ServiceContext
from slipway.store.queries import one_row
from slipway.store.schema.governance import approval_decisions, approval_requests

DEFAULT_TIERS = {"low": 1, "medium": 1, "high": 2}


def required_approvals(settings: Settings, risk_tier: str, policy_minimum: int = 0) -> int:
    """Approvals a version needs: its risk tier's count (``governance.risk_tiers``), or more if its
    policy says so."""
    tiers = {**DEFAULT_TIERS, **governance_settings(settings).risk_tiers}
    if risk_tier not in tiers:
        raise InvalidInput(f"risk tier {risk_tier!r} has no approval count; configure governance.risk_tiers "
                           f"(known: {', '.join(sorted(tiers))})")
    try:
        count = int(tiers[risk_tier])
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"governance.risk_tiers.{risk_tier} must be a whole number, got {tiers[risk_tier]!r}") from err
    return max(1, count, policy_minimum)


def load_request(conn: Connection, request_id: str, for_update: bool = False) -> Any:
    return one_row(conn, select(approval_requests).where(approval_requests.c.id == request_id),
                   f"approval request {request_id!r} does not exist", lock=for_update)


def open_request_id(conn: Connection, model: str, version: int) -> str | None:
    row = conn.execute(
        select(approval_requests.c.id).where(
            approval_requests.c.model == model, approval_requests.c.version == version,
            approval_requests.c.status == "open")
    ).first()
    return row.id if row else None


def request_record(conn: Connection, row: Any, blocked_by: str | None = None) -> ApprovalRequest:
    decisions = [
        Decision(d.approver, d.decision, d.comment, d.created_ms, ticket_of(d.proof))
        for d in conn.execute(select(approval_decisions).where(approval_decisions.c.request_id == row.id)
                              .order_by(approval_decisions.c.created_ms, approval_decisions.c.approver))
    ]
    approvals = sum(d.decision == "approve" for d in decisions)
    return ApprovalRequest(row.id, row.model, row.version, row.requested_by, row.reason, row.status, row.required,
                           approvals, decisions, row.external_ref, row.created_ms, row.decided_ms, blocked_by,
                           row.ticket_number)


def ticket_of(proof: str | None) -> str | None:
    """The ticket number a decision was taken from (its proof's scheme is ``ticket``), else None."""
    if not proof:
        return None
    parsed = orjson.loads(proof)
    return str(parsed.get("number")) if isinstance(parsed, dict) and parsed.get("scheme") == "ticket" else None


def list_requests(conn: Connection, model: str | None, status: str | None, limit: int) -> list[ApprovalRequest]:
    query = select(approval_requests)
    if model:
        query = query.where(approval_requests.c.model == model)
    if status:
        query = query.where(approval_requests.c.status == status)
    rows = conn.execute(query.order_by(approval_requests.c.created_ms.desc()).limit(max(1, min(limit, 10_000)))).all()
    return [request_record(conn, r) for r in rows]


def record_external_ref(ctx: ServiceContext, conn: Connection, request_id: str, system: str, ref: str,
                        number: str | None, extra: dict[str, Any] | None = None) -> None:
    """Record the ticket an ITSM system (e.g. ServiceNow) opened for an approval request (audited)."""
    conn.execute(approval_requests.update().where(approval_requests.c.id == request_id)
                 .values(external_ref=ref, ticket_number=number))
    ctx.audit(conn, Action.APPROVAL_EXTERNAL_REF, Subject.APPROVAL_REQUEST, request_id,
              {"system": system, "sys_id": ref, "number": number, **(extra or {})})
