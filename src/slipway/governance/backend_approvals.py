"""Governance endpoints for approvals: request, decide (four eyes), list, and the ticketing callback."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput, PermissionDenied
from slipway.core.events import Action, Subject, WebhookEvent, approval_action
from slipway.core.ids import new_id
from slipway.governance.approvals import (
    list_requests,
    load_request,
    open_request_id,
    request_record,
    required_approvals,
)
from slipway.governance.card_render import render
from slipway.governance.cards import build_card
from slipway.governance.checks import current_policy, current_policy_id, fixed_terms, governing_policies
from slipway.governance.gate import gated_write, record_check
from slipway.governance.lifecycle import require_allowed, set_state
from slipway.governance.policy import parse_policy
from slipway.governance.records import ApprovalRequest, CheckResult
from slipway.governance.refs import resolve_version, version_row
from slipway.identity.proof import prove_decision
from slipway.store.context import ServiceContext
from slipway.store.projects import keep_readable_models
from slipway.store.schema.governance import approval_decisions, approval_requests
from slipway.webhooks.outbox import emit
from slipway.webhooks.servicenow import verify_callback


class ApprovalEndpoints:
    ctx: ServiceContext

    @endpoint("registry.write")
    def request_approval(self, ref: str, reason: str) -> ApprovalRequest:
        """Put a version up for approval. Its policy (all but the approvals count) must pass first."""
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("an approval request needs a reason")
        with self.ctx.db.read() as conn:
            model, number = resolve_version(conn, ref)
            row: Any = version_row(conn, model, number)
            require_allowed(model, number, row.state, "pending_approval")
            # The tier and policy are fixed on the version by its first request; later edits to the
            # model may raise what a new request needs, never lower it.
            fixed_tier, _, fixed_policy_id = fixed_terms(conn, model, number)
            current = current_policy(conn, model, row.risk_tier)
            tier, policy_id = fixed_tier or row.risk_tier, fixed_policy_id or current_policy_id(conn, current)
            minimum = max([0, *(parse_policy(p.source).approvals
                                for p in governing_policies(conn, model, number, row.risk_tier))])
        required = max(required_approvals(self.ctx.settings, t, minimum) for t in {tier, row.risk_tier})

        def change(conn: Connection, row: Any, check: CheckResult) -> ApprovalRequest:
            require_allowed(model, number, row.state, "pending_approval")
            if open_request_id(conn, model, number):
                raise Conflict(f"{model}/{number} already has an open approval request")
            request_id = new_id()
            conn.execute(approval_requests.insert().values(
                id=request_id, model=model, version=number, requested_by=self.ctx.principal.name,
                reason=reason.strip(), status="open", required=required, risk_tier=tier, policy_id=policy_id,
                created_ms=now_ms()))
            set_state(conn, row.id, row.state, "pending_approval")
            details = {"request_id": request_id, "reason": reason.strip(), "required": required, "from": row.state,
                       "check_id": check.id, "risk_tier": tier, "policy_id": policy_id}
            self.ctx.audit(conn, Action.APPROVAL_REQUEST, Subject.MODEL_VERSION, f"{model}/{number}", details)
            emit(conn, WebhookEvent.APPROVAL_REQUESTED, {"model": model, "version": number, "request_id": request_id,
                                              "requested_by": self.ctx.principal.name, "reason": reason.strip(),
                                              "required": required})
            return request_record(conn, load_request(conn, request_id))

        return gated_write(self.ctx, model, number, "approved", change, skip_approvals=True)

    def _checked_request(self, conn: Connection, request_id: str, decider: str | None = None) -> Any:
        """The open request ``decider`` (default: the caller; a ticket's approver) may decide on."""
        req = load_request(conn, request_id, for_update=True)
        me = decider or self.ctx.principal.name
        if req.status != "open":
            raise Conflict(f"approval request {request_id} is already {req.status}")
        if req.requested_by == me:
            raise PermissionDenied(f"{me} requested approval of {req.model}/{req.version} and may not decide on it; "
                                   "a second person must")
        already = conn.execute(select(approval_decisions.c.decision).where(
            approval_decisions.c.request_id == request_id, approval_decisions.c.approver == me)).first()
        if already is not None:
            raise Conflict(f"{me} already decided on approval request {request_id} ({already.decision}); "
                           "approvals must come from distinct people")
        return req

    def _insert_decision(self, conn: Connection, req: Any, decision: str, comment: str,
                         ticket: dict[str, str] | None = None) -> None:
        """Record a decision with its proof. ``ticket`` (``system``, ``number``, ``sys_id``,
        ``approver``): the verdict of that ticket's approver, relayed by the caller."""
        subject = f"{req.model}/{req.version}"
        fields: dict[str, Any] = {"request_id": req.id, "comment": comment}
        # Proof of who decided (token via the server, the approver's key embedded), checked by audit verify.
        if ticket is None:
            approver, proof = self.ctx.principal.name, prove_decision(self.ctx, conn, approval_action(decision),
                                                                      subject, fields)
        else:
            approver, extra = ticket["approver"], {"ticket": ticket["number"], "ticket_approver": ticket["approver"]}
            relay = prove_decision(self.ctx, conn, approval_action(decision), subject, {**fields, **extra})
            proof = {"scheme": "ticket", **ticket, "relayed_by": self.ctx.principal.name, "relay": relay}
            fields |= extra
        conn.execute(approval_decisions.insert().values(
            id=new_id(), request_id=req.id, approver=approver, decision=decision, comment=comment,
            proof=orjson.dumps(proof).decode(), created_ms=now_ms()))
        self.ctx.audit(conn, approval_action(decision), Subject.MODEL_VERSION, subject, {**fields, "proof": proof})

    def _finish(self, conn: Connection, req: Any, row: Any, outcome: str) -> None:
        status, state = ("approved", "approved") if outcome == "approve" else ("rejected", "rejected")
        conn.execute(approval_requests.update().where(approval_requests.c.id == req.id)
                     .values(status=status, decided_ms=now_ms()))
        set_state(conn, row.id, row.state, state)
        details = {"from": row.state, "to": state, "reason": f"approval request {req.id} {status}"}
        if outcome == "approve":
            # Freeze the card as approved: a blob named in the ledger, so later edits cannot rewrite it.
            card = build_card(conn, version_row(conn, req.model, req.version))
            details["card_digest"] = self.ctx.blobs.put_bytes(render(card, "json").encode())
        self.ctx.audit(conn, Action.VERSION_TRANSITION, Subject.MODEL_VERSION, f"{req.model}/{req.version}", details)
        approvers = [r.approver for r in conn.execute(select(approval_decisions.c.approver).where(
            approval_decisions.c.request_id == req.id, approval_decisions.c.decision == outcome))]
        emit(conn, WebhookEvent(f"approval.{status}"), {"model": req.model, "version": req.version, "request_id": req.id,
                                          "approvers" if outcome == "approve" else "rejected_by": approvers})

    @endpoint("governance.approve")
    def decide(self, request_id: str, decision: str, comment: str = "") -> ApprovalRequest:
        """Approve or reject a request. The requester may not decide; each person decides once. The
        version becomes approved when enough distinct approvals arrive and its policy passes; one
        rejection rejects it."""
        if decision not in ("approve", "reject"):
            raise InvalidInput(f"decision must be 'approve' or 'reject', not {decision!r}")
        if decision == "reject" and not comment.strip():
            raise InvalidInput("a rejection needs a comment saying why")
        # One transaction: the request row is locked (PostgreSQL) or the database is (SQLite), so
        # concurrent deciders are serialised and exactly one of them completes the approval.
        with self.ctx.db.write() as conn:
            req = self._checked_request(conn, request_id)
            self._insert_decision(conn, req, decision, comment)
            row = version_row(conn, req.model, req.version)
            if decision == "reject":
                self._finish(conn, req, row, "reject")
                return request_record(conn, load_request(conn, request_id))
            if request_record(conn, req).approvals < req.required:
                return request_record(conn, req)
            return self._approve_if_policy_passes(conn, req, row)

    @endpoint("governance.approve")
    def recheck(self, request_id: str) -> ApprovalRequest:
        """Re-evaluate a request that has its approvals but was blocked by its policy (e.g. after a
        new fairness report); completes the approval if the policy now passes."""
        with self.ctx.db.write() as conn:
            req = load_request(conn, request_id, for_update=True)
            if req.status != "open":
                raise Conflict(f"approval request {request_id} is already {req.status}")
            if request_record(conn, req).approvals < req.required:
                raise Conflict(f"approval request {request_id} has {request_record(conn, req).approvals} of "
                               f"{req.required} approvals; nothing to re-check")
            return self._approve_if_policy_passes(conn, req, version_row(conn, req.model, req.version))

    def _approve_if_policy_passes(self, conn: Connection, req: Any, row: Any) -> ApprovalRequest:
        """With its approvals in, the version becomes approved if its policy passes now; otherwise
        the decisions stand and the version stays pending, with the failed requirements named."""
        waiting = self._awaiting_ticket(conn, req)
        if waiting:
            return request_record(conn, req, blocked_by=waiting)
        check = record_check(self.ctx, conn, row, "approved")
        if not check.passed:
            reason = "; ".join(f"{o.requirement}: {o.detail}" for o in check.failures)
            return request_record(conn, req, blocked_by=reason)
        self._finish(conn, req, row, "approve")
        return request_record(conn, load_request(conn, req.id))

    def _awaiting_ticket(self, conn: Connection, req: Any) -> str | None:
        """What keeps a request from completing until its ticket is approved (ticketed sign-off)."""
        return None

    @endpoint("read")
    def list_requests(self, model: str | None = None, status: str | None = None, limit: int = 100) -> list[ApprovalRequest]:
        """Approval requests, newest first."""
        with self.ctx.db.read() as conn:
            found = list_requests(conn, model, status, limit)
            return keep_readable_models(self.ctx.principal, conn, found, lambda r: r.model)

    @endpoint("read")
    def get_request(self, request_id: str) -> ApprovalRequest:
        with self.ctx.db.read() as conn:
            return request_record(conn, load_request(conn, request_id))

    @endpoint("governance.approve")
    def servicenow_callback(self, body: dict[str, Any], timestamp: int, signature: str) -> ApprovalRequest:
        """A ticketing system's verdict on a change request, recorded as its service account's decision.

        ``body`` is ``{"correlation_id": <approval request id>, "sys_id", "approval": "approved" |
        "rejected", "comments"}``, signed like webhooks: HMAC-SHA256 over ``"{timestamp}.{json}"``
        (compact JSON, sorted keys) with the ServiceNow webhook's secret.
        """
        with self.ctx.db.read() as conn:
            verify_callback(conn, self.ctx.settings, body, timestamp, signature)
        verdict = {"approved": "approve", "rejected": "reject"}.get(str(body.get("approval")))
        if verdict is None:
            raise InvalidInput(f"approval must be 'approved' or 'rejected', got {body.get('approval')!r}")
        comment = str(body.get("comments") or f"change {body.get('number') or body.get('sys_id')} {body['approval']}")
        return self.decide(str(body.get("correlation_id")), verdict, comment)
