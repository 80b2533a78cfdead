"""Proof of who made a governance decision, and its re-check by ``audit verify``.

Approvals, rejections and moves of protected aliases carry a proof, stored in the decision's audit
event (``details["proof"]``) and, for approvals, on the decision row:

- through the server: ``{"scheme": "token"}`` — the server authenticated the bearer token;
- embedded: ``{"scheme": "ed25519", "key": FINGERPRINT, "signed": {...}, "signature": B64}`` — the
  acting user's private key (a file only they can read) signed the decision, and the key is
  registered to that user. Another user, including the requester, cannot produce it;
- from a ticket (ticketed sign-off): ``{"scheme": "ticket", "system", "number", "sys_id",
  "approver", "relayed_by", "relay": PROOF}`` — the ticket's approver is the approver of record;
  ``relay`` is the token or signature proof of the service account (an approver) that read the
  ticket and relayed the verdict, signed over the ticket number and approver too.

:func:`check_decision_signatures` re-checks every stored proof; it is what ``audit verify`` calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import Connection, select

from slipway.core.auth import roles_holding
from slipway.core.clock import now_ms
from slipway.core.errors import PermissionDenied
from slipway.core.events import ALIAS_ACTIONS, PROVED_ACTIONS, Action
from slipway.identity.keys import verify_signature
from slipway.identity.registry import key_owner, key_row
from slipway.store.context import ServiceContext
from slipway.store.schema.core import audit_events

# Audit actions whose events must carry a proof (alias actions only when ``details["protected"]``).
DECISION_ACTIONS = PROVED_ACTIONS
_ENVELOPE = ("actor", "action", "subject", "at")


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def prove_decision(ctx: ServiceContext, conn: Connection, action: Action, subject: str,
                   fields: dict[str, Any]) -> dict[str, Any]:
    """The proof to store with a decision the context's principal is making now.

    Raises:
        PermissionDenied: embedded mode without a signing key registered to the acting user.
    """
    if ctx.credential == "token":
        return {"scheme": "token"}
    name, signer = ctx.principal.name, ctx.signer
    what = {"approval.approve": "approve", "approval.reject": "reject"}.get(action, "move a protected alias")
    if signer is None:
        raise PermissionDenied(
            f"{name} may not {what} in embedded mode without a signing key: create one with "
            f"'slipway users key generate', ask an admin to run 'slipway users key add {name} KEY.pub', and set "
            "SLIPWAY_SIGNING_KEY to the private key file (or go through a server with a token)")
    owner = key_owner(conn, signer.fingerprint)
    if owner != name:
        raise PermissionDenied(f"the signing key {signer.fingerprint} is not registered to {name}"
                               + (f" (it is {owner}'s)" if owner else "") + "; an admin registers keys with "
                               f"'slipway users key add' (holders: {', '.join(roles_holding('admin'))})")
    signed = {"actor": name, "action": action, "subject": subject, "at": now_ms(), **fields}
    return {"scheme": "ed25519", "key": signer.fingerprint, "signed": signed,
            "signature": signer.sign(canonical(signed))}


def _check_proof(conn: Connection, proof: Any, actor: str, action: str, subject: str,
                 fields: dict[str, Any]) -> str | None:
    """What is wrong with ``proof`` for this decision, or None if it holds."""
    if not isinstance(proof, dict):
        return "carries no proof of who made it"
    if proof.get("scheme") == "token":
        return None
    if proof.get("scheme") == "ticket":
        relayed_by, approver = str(proof.get("relayed_by")), proof.get("approver")
        if actor not in (relayed_by, approver):
            return f"is a ticket's verdict relayed by {relayed_by} for {approver}, not by or for {actor}"
        return _check_proof(conn, proof.get("relay"), relayed_by, action, subject,
                            {**fields, "ticket": proof.get("number"), "ticket_approver": approver})
    if proof.get("scheme") != "ed25519":
        return f"has an unknown proof scheme {proof.get('scheme')!r}"
    signed, fingerprint = proof.get("signed"), str(proof.get("key"))
    if not isinstance(signed, dict):
        return "has a signature without the signed decision"
    expected = {"actor": actor, "action": action, "subject": subject, **fields}
    for name, value in expected.items():
        if signed.get(name) != value:
            return f"was signed for {name}={signed.get(name)!r}, but the record says {value!r}"
    key = key_row(conn, fingerprint)
    if key is None:
        return f"is signed by key {fingerprint}, which is not registered"
    if key.owner != actor:
        return f"is signed by key {fingerprint}, which is registered to {key.owner}, not {actor}"
    at = signed.get("at")
    if not isinstance(at, int) or at < key.created_ms or (key.revoked_ms is not None and at >= key.revoked_ms):
        return f"is signed by key {fingerprint} at a time the key was not valid"
    if not verify_signature(key.public_key, canonical(signed), str(proof.get("signature"))):
        return f"has a signature that does not verify with key {fingerprint}"
    return None


def signed_part(proof: Any) -> Any:
    """The signed decision inside a proof (a ticket's proof: inside the relay's)."""
    if isinstance(proof, dict) and proof.get("scheme") == "ticket":
        proof = proof.get("relay")
    return proof.get("signed") if isinstance(proof, dict) else None


def _event_fields(action: str, details: dict[str, Any], signed: Any) -> dict[str, Any]:
    """The details a signature must match: every signed field but the envelope."""
    names = [k for k in (signed if isinstance(signed, dict) else {}) if k not in _ENVELOPE]
    return {name: details.get(name) for name in names}


def check_decision_signatures(conn: Connection, decision_rows: Iterable[Any] = ()) -> list[str]:
    """Every decision whose stored proof does not hold, as one line each (empty: all hold).

    A decision event without any proof is named once the store holds signed decisions (events
    recorded before signing existed carry none). ``decision_rows`` (governance's approval
    decisions, which it reads from its own table) are checked against the same proof, so a row
    inserted or edited behind the API's back is named too.
    """
    problems: list[str] = []
    proofs_seen = False
    query = (select(audit_events.c.seq, audit_events.c.actor, audit_events.c.action, audit_events.c.subject_id,
                    audit_events.c.details)
             .where(audit_events.c.action.in_(DECISION_ACTIONS + ALIAS_ACTIONS)).order_by(audit_events.c.seq))
    for event in conn.execute(query):
        details = orjson.loads(event.details)
        if event.action in ALIAS_ACTIONS and not details.get("protected"):
            continue
        proof = details.get("proof")
        proofs_seen = proofs_seen or proof is not None
        if proof is None and not proofs_seen:
            continue
        fields = _event_fields(event.action, details, signed_part(proof))
        problem = _check_proof(conn, proof, event.actor, event.action, event.subject_id, fields)
        if problem:
            problems.append(f"audit event #{event.seq} ({event.action} by {event.actor} on {event.subject_id}) {problem}")
    for row in decision_rows:
        if row.proof is None and not proofs_seen:
            continue
        proof = orjson.loads(row.proof) if row.proof else None
        signed = signed_part(proof)
        action, subject = f"approval.{row.decision}", signed.get("subject") if isinstance(signed, dict) else ""
        fields = {"request_id": row.request_id, "comment": row.comment}
        problem = _check_proof(conn, proof, row.approver, action, str(subject), fields)
        if problem:
            problems.append(f"approval decision {row.id} ({row.decision} by {row.approver} on request "
                            f"{row.request_id}) {problem}")
    return problems
