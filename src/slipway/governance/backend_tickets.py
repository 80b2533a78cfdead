"""Ticketed sign-off: approval requests of high-risk models go through a ServiceNow change request.

With ``[governance.servicenow] instance_url`` set, an approval request of a model whose risk tier
is in ``tiers`` (default ``high``) opens a ``change_request`` through the Table API, attaches the
version's evidence (a zip: card, intended use, fairness and evaluation reports, lineage, approvals,
history; the full pack with audit proofs is ``governance export``) with the Attachment API, and moves the change to Assess so its approvers are asked. The ticket's
approval, read back by polling (``slipway governance tickets sync``, ``ws.governance.sync_tickets``)
or when the signed callback arrives, is recorded as the decision of the ticket's approver (the
approver of record), relayed and proved by the account that read it. Until a ticket approval is
in, the version cannot become approved; an approval given in the ticket by the requester does not
count (four eyes) and is audited as refused.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, select

from slipway.core.auth import endpoint
from slipway.core.errors import Conflict, InvalidInput, SlipwayError
from slipway.core.events import Action, Subject
from slipway.governance.approvals import load_request, record_external_ref, request_record
from slipway.governance.backend_approvals import ApprovalEndpoints
from slipway.governance.evidence_pack import build_pack, pack_zip
from slipway.governance.records import ApprovalRequest, TicketSync
from slipway.governance.refs import version_row
from slipway.store.schema.core import audit_events
from slipway.store.schema.governance import approval_requests
from slipway.webhooks.servicenow_api import ServiceNowClient
from slipway.webhooks.settings import ServiceNowSettings, servicenow_settings

log = logging.getLogger("slipway.governance.tickets")
ASSESS = "-4"  # the change state in which its approvers are asked
CANCELED = "4"


class TicketEndpoints(ApprovalEndpoints):
    def _ticketing(self) -> ServiceNowSettings | None:
        conf = servicenow_settings(self.ctx.settings)
        return conf if conf.instance_url else None

    def _needs_ticket(self, req: Any) -> bool:
        conf = self._ticketing()
        return conf is not None and str(req.risk_tier) in conf.tiers

    def _awaiting_ticket(self, conn: Connection, req: Any) -> str | None:
        # Ticketed sign-off: the change's approval is the approval of record; nothing completes before it.
        if not self._needs_ticket(req) or any(d.ticket for d in request_record(conn, req).decisions):
            return None
        return f"awaiting the approval of change {req.ticket_number or '(not opened yet)'}"

    @endpoint("governance.approve")
    def decide(self, request_id: str, decision: str, comment: str = "") -> ApprovalRequest:
        """Approve or reject a request. The requester may not decide; each person decides once. The
        version becomes approved when enough distinct approvals arrive and its policy passes; one
        rejection rejects it. A ticketed request is approved in its change request, not here
        (a rejection here still rejects it)."""
        if decision == "approve":
            with self.ctx.db.read() as conn:
                req = load_request(conn, request_id)
            if req.status == "open" and self._needs_ticket(req) and req.requested_by != self.ctx.principal.name:
                raise Conflict(f"approval request {request_id} of {req.model}/{req.version} is signed off in change "
                               f"{req.ticket_number or '(not opened yet)'}: approve it there; Slipway records the "
                               "ticket's approvers ('slipway governance tickets sync')")
        return super().decide(request_id, decision, comment)

    @endpoint("registry.write")
    def request_approval(self, ref: str, reason: str) -> ApprovalRequest:
        """Put a version up for approval. Its policy (all but the approvals count) must pass first.
        A model of a ticketed risk tier also gets a change request (see ``sync_tickets``)."""
        request = super().request_approval(ref, reason)
        with self.ctx.db.read() as conn:
            req = load_request(conn, request.id)
        if not self._needs_ticket(req):
            return request
        try:
            self._open_ticket(req.id)
        except SlipwayError as err:
            log.warning("could not open a change request for approval request %s: %s", req.id, err)
            with self.ctx.db.read() as conn:
                return request_record(conn, load_request(conn, req.id),
                                      blocked_by=f"no change request yet ({err}); 'slipway governance tickets sync' "
                                                 "retries")
        with self.ctx.db.read() as conn:
            return request_record(conn, load_request(conn, req.id))

    def _open_ticket(self, request_id: str) -> TicketSync:
        conf = self._ticketing()
        assert conf is not None
        with self.ctx.db.read() as conn:
            req = load_request(conn, request_id)
            row = version_row(conn, req.model, req.version)
            # The reviewers' evidence, without the audit proofs: those need a pass over the whole ledger,
            # which an approval request should not wait for ('governance export' writes the full pack).
            files = build_pack(self.ctx, conn, row, prove=False)
        ref = f"{req.model}/{req.version}"
        archive = pack_zip(files, f"evidence-{req.model}-{req.version}")
        digest = self.ctx.blobs.put_bytes(archive)
        fields = {
            "short_description": f"Approve model {ref} for production ({req.risk_tier} risk)",
            "description": f"Slipway approval request {req.id} by {req.requested_by}: {req.reason}\n"
                           f"{req.required} approval(s) required. Evidence pack: blob {digest} (attached).",
            "justification": req.reason, "type": "normal", "category": "Model release", "risk": str(req.risk_tier),
            "correlation_id": req.id, "correlation_display": "slipway", "u_model": req.model,
            "u_model_version": str(req.version),
        } | ({"assignment_group": conf.assignment_group} if conf.assignment_group else {})
        with ServiceNowClient(conf) as client:
            change = client.create_change(fields)
            sys_id, number = str(change["sys_id"]), str(change.get("number") or "")
            attachment = {}
            if conf.attach_evidence:
                attachment = client.attach(sys_id, f"evidence-{req.model}-{req.version}.zip", archive, "application/zip")
            moved = client.update_change(sys_id, {"state": ASSESS, "work_notes": "Evidence attached; approval requested"})
            url = client.ticket_url(sys_id)
        with self.ctx.db.write() as conn:
            current = load_request(conn, request_id, for_update=True)
            if current.ticket_number is None:
                record_external_ref(self.ctx, conn, request_id, "servicenow", sys_id, number, {
                    "url": url, "evidence_digest": digest, "attachment": attachment.get("sys_id"),
                    "state": moved.get("state"), "approval": moved.get("approval")})
        return TicketSync(request_id, ref, number, str(moved.get("state")), str(moved.get("approval")), "opened",
                          f"{number} opened at {url}", "open")

    @endpoint("governance.approve")
    def sync_tickets(self, request_id: str | None = None) -> list[TicketSync]:
        """Poll the change requests of open approval requests (or of ``request_id``): open the ones
        a ticketed request still lacks, and record each ticket's verdict as its approver's decision."""
        if self._ticketing() is None:
            raise InvalidInput("ticketed sign-off is off: set [governance.servicenow] instance_url")
        with self.ctx.db.read() as conn:
            query = select(approval_requests).where(approval_requests.c.status == "open")
            if request_id:
                query = select(approval_requests).where(approval_requests.c.id == request_id)
            rows = conn.execute(query.order_by(approval_requests.c.created_ms)).all()
            if request_id and not rows:
                load_request(conn, request_id)  # NotFound
        results = []
        for req in rows:
            if not self._needs_ticket(req) and req.ticket_number is None:
                continue
            try:
                results.append(self._open_ticket(req.id) if req.ticket_number is None else self._sync_one(req.id))
            except SlipwayError as err:
                results.append(TicketSync(req.id, f"{req.model}/{req.version}", req.ticket_number, None, None,
                                          "failed", str(err), req.status))
        return results

    def _sync_one(self, request_id: str) -> TicketSync:
        conf = self._ticketing()
        assert conf is not None
        with self.ctx.db.read() as conn:
            req = load_request(conn, request_id)
        ref, number = f"{req.model}/{req.version}", req.ticket_number
        with ServiceNowClient(conf) as client:
            change = client.get_change(req.external_ref)
            verdict = str(change.get("approval") or "")
            approvers = client.approvers(req.external_ref) if verdict in ("approved", "rejected") else []
            state = str(change.get("state"))
            ticket = {"system": "servicenow", "number": number, "sys_id": req.external_ref}
            with self.ctx.db.write() as conn:
                outcome, detail, result = self._apply_verdict(conn, req.id, verdict, approvers, ticket)
            if outcome in ("approved", "rejected"):
                client.update_change(req.external_ref, {
                    "work_notes": f"Slipway recorded the {outcome} verdict on {ref} (approval request {req.id})"})
        return TicketSync(req.id, ref, number, state, verdict, outcome, detail, result.status)

    def _apply_verdict(self, conn: Connection, request_id: str, verdict: str, approvers: list[Any],
                       ticket: dict[str, Any]) -> tuple[str, str, ApprovalRequest]:
        req = load_request(conn, request_id, for_update=True)
        if req.status != "open":
            return "closed", f"the approval request is already {req.status}", request_record(conn, req)
        if verdict not in ("approved", "rejected"):
            return "waiting", f"change {req.ticket_number} is '{verdict or 'not requested'}'", request_record(conn, req)
        decided = {d.approver for d in request_record(conn, req).decisions}
        wanted = "approve" if verdict == "approved" else "reject"
        refused = []
        for person in approvers:
            if person.state != verdict or not person.user_name or person.user_name in decided:
                continue
            if person.user_name == req.requested_by:
                refused.append(person.user_name)
                self._refuse(conn, req, person.user_name)
                continue
            comment = person.comments or f"{verdict} in change {req.ticket_number}"
            self._checked_request(conn, req.id, decider=person.user_name)
            self._insert_decision(conn, req, wanted, comment, {**ticket, "approver": person.user_name})
            decided.add(person.user_name)
            if wanted == "reject":
                self._finish(conn, req, version_row(conn, req.model, req.version), "reject")
                return "rejected", f"rejected by {person.user_name} in {req.ticket_number}", \
                    request_record(conn, load_request(conn, req.id))
        current = request_record(conn, req)
        if not any(d.ticket for d in current.decisions):
            detail = (f"change {req.ticket_number} is {verdict} but only by {', '.join(refused)}, the requester: "
                      "it does not count (four eyes)") if refused else \
                f"change {req.ticket_number} is {verdict} but names no approver who approved it"
            return "blocked", detail, current
        if current.approvals < req.required:
            return "waiting", f"{current.approvals} of {req.required} approvals", current
        result = self._approve_if_policy_passes(conn, req, version_row(conn, req.model, req.version))
        if result.status != "approved":
            return "blocked", result.blocked_by or "the policy fails", result
        return "approved", f"approved in {req.ticket_number}", result

    def _refuse(self, conn: Connection, req: Any, user: str) -> None:
        """Audit (once) that the requester's own approval in the ticket did not count."""
        seen = conn.execute(select(audit_events.c.seq).where(
            audit_events.c.action == Action.APPROVAL_TICKET_REFUSED, audit_events.c.subject_id == req.id)).first()
        if seen is None:
            self.ctx.audit(conn, Action.APPROVAL_TICKET_REFUSED, Subject.APPROVAL_REQUEST, req.id,
                           {"ticket": req.ticket_number, "approver": user,
                            "reason": "the requester approved their own change; four eyes: it does not count"})

    @endpoint("governance.approve")
    def servicenow_callback(self, body: dict[str, Any], timestamp: int, signature: str) -> ApprovalRequest:
        """A ticketing system's verdict on a change request. With ticketed sign-off, the signed
        callback only says "read the ticket": the verdict and its approvers are read from the Table
        API (the callback's own claims are not trusted). Otherwise it is recorded as the calling
        service account's decision (``body``: ``{"correlation_id", "sys_id", "approval", "comments"}``,
        signed with the ServiceNow webhook's secret)."""
        request_id = str(body.get("correlation_id")) if isinstance(body, dict) else ""
        with self.ctx.db.read() as conn:
            req = conn.execute(select(approval_requests).where(approval_requests.c.id == request_id)).first()
        if req is None or req.ticket_number is None or self._ticketing() is None:
            return super().servicenow_callback(body, timestamp, signature)
        from slipway.webhooks.servicenow import verify_callback

        with self.ctx.db.read() as conn:
            verify_callback(conn, self.ctx.settings, body, timestamp, signature)
        self._sync_one(request_id)
        with self.ctx.db.read() as conn:
            return request_record(conn, load_request(conn, request_id))
