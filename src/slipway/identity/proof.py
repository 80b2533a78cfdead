"""Proof of who made a governance decision, and its re-check by ``audit verify``.

Approvals, rejections and moves of protected aliases carry a proof, stored in the decision's audit
event (``details["proof"]``) and, for approvals, on the decision row:

- through the server: ``{"scheme": "token", "key", "signed": {..., "token_id"}, "signature"}`` — the
  server authenticated the bearer token ``token_id`` and signed the decision with its own key,
  registered to ``slipway-server`` (:mod:`slipway.identity.server_key`). A bare
  ``{"scheme": "token"}`` (what servers recorded before they signed) is accepted only until the
  first signed one, so code that claims a token without a server's key is named by verify;
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
from slipway.identity.server_key import SERVER_USER
from slipway.store.context import ServiceContext
from slipway.store.schema.core import api_tokens, audit_events, users

# Audit actions whose events must carry a proof (alias actions only when ``details["protected"]``).
DECISION_ACTIONS = PROVED_ACTIONS
_ENVELOPE = ("actor", "action", "subject", "at", "token_id")


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def prove_decision(ctx: ServiceContext, conn: Connection, action: Action, subject: str,
                   fields: dict[str, Any]) -> dict[str, Any]:
    """The proof to store with a decision the context's principal is making now.

    Raises:
        PermissionDenied: embedded mode without a signing key registered to the acting user.
    """
    name, signer = ctx.principal.name, ctx.signer
    what = {"approval.approve": "approve", "approval.reject": "reject"}.get(action, "move a protected alias")
    if ctx.credential == "token":
        return _server_proof(ctx, conn, action, subject, fields, what)
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


def _server_proof(ctx: ServiceContext, conn: Connection, action: Action, subject: str, fields: dict[str, Any],
                  what: str) -> dict[str, Any]:
    """A server's proof: the token it checked, signed with the server's registered key."""
    signer, token_id = ctx.signer, ctx.principal.token_id
    if signer is None or not token_id or key_owner(conn, signer.fingerprint) != SERVER_USER:
        raise PermissionDenied(f"{ctx.principal.name} may not {what} here: a decision proved by a token must be "
                               "made through a slipway server, which signs it with its own key")
    signed = {"actor": ctx.principal.name, "action": action, "subject": subject, "at": now_ms(),
              "token_id": token_id, **fields}
    return {"scheme": "token", "key": signer.fingerprint, "signed": signed, "signature": signer.sign(canonical(signed))}


def _check_token(conn: Connection, token_id: Any, actor: str, at: int) -> str | None:
    """What is wrong with the token a server says it checked, or None."""
    row = conn.execute(select(api_tokens.c.created_ms, api_tokens.c.revoked_ms, api_tokens.c.expires_ms,
                              users.c.name).join(users, users.c.id == api_tokens.c.user_id)
                       .where(api_tokens.c.id == str(token_id))).first()
    if row is None:
        return f"names token {token_id}, which does not exist"
    if row.name != actor:
        return f"names token {token_id}, which is {row.name}'s, not {actor}'s"
    if at < row.created_ms or (row.revoked_ms is not None and at >= row.revoked_ms) or \
            (row.expires_ms is not None and at > row.expires_ms):
        return f"names token {token_id} at a time it was not valid"
    return None


def _check_proof(conn: Connection, proof: Any, actor: str, action: str, subject: str,
                 fields: dict[str, Any], bare_token_ok: bool = True) -> str | None:
    """What is wrong with ``proof`` for this decision, or None if it holds. ``bare_token_ok``: a
    ``{"scheme": "token"}`` without the server's signature still passes (before the first signed one)."""
    if not isinstance(proof, dict):
        return "carries no proof of who made it"
    if proof.get("scheme") == "token" and "signed" not in proof:
        return None if bare_token_ok else "claims a token without the server's signature"
    if proof.get("scheme") == "token":
        problem = _check_signed(conn, proof, SERVER_USER, action, subject, {"actor": actor, **fields})
        signed = proof["signed"] if isinstance(proof.get("signed"), dict) else {}
        return problem or _check_token(conn, signed.get("token_id"), actor, int(signed.get("at") or 0))
    if proof.get("scheme") == "ticket":
        relayed_by, approver = str(proof.get("relayed_by")), proof.get("approver")
        if actor not in (relayed_by, approver):
            return f"is a ticket's verdict relayed by {relayed_by} for {approver}, not by or for {actor}"
        return _check_proof(conn, proof.get("relay"), relayed_by, action, subject,
                            {**fields, "ticket": proof.get("number"), "ticket_approver": approver}, bare_token_ok)
    if proof.get("scheme") != "ed25519":
        return f"has an unknown proof scheme {proof.get('scheme')!r}"
    return _check_signed(conn, proof, actor, action, subject, {"actor": actor, **fields})


def _check_signed(conn: Connection, proof: dict[str, Any], signer: str, action: str, subject: str,
                  fields: dict[str, Any]) -> str | None:
    """What is wrong with a signature by a key of ``signer`` over this decision, or None."""
    signed, fingerprint = proof.get("signed"), str(proof.get("key"))
    if not isinstance(signed, dict):
        return "has a signature without the signed decision"
    expected = {"action": action, "subject": subject, **fields}
    for name, value in expected.items():
        if signed.get(name) != value:
            return f"was signed for {name}={signed.get(name)!r}, but the record says {value!r}"
    key = key_row(conn, fingerprint)
    if key is None:
        return f"is signed by key {fingerprint}, which is not registered"
    if key.owner != signer:
        return f"is signed by key {fingerprint}, which is registered to {key.owner}, not {signer}"
    at = signed.get("at")
    if not isinstance(at, int) or at < key.created_ms or (key.revoked_ms is not None and at >= key.revoked_ms):
        return f"is signed by key {fingerprint} at a time the key was not valid"
    if not verify_signature(key.public_key, canonical(signed), str(proof.get("signature"))):
        return f"has a signature that does not verify with key {fingerprint}"
    return None


def _server_signed(proof: Any) -> bool:
    """Whether a proof (or a ticket's relay) is a token proof a server signed."""
    if isinstance(proof, dict) and proof.get("scheme") == "ticket":
        proof = proof.get("relay")
    return isinstance(proof, dict) and proof.get("scheme") == "token" and isinstance(proof.get("signed"), dict)


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
    recorded before signing existed carry none); a bare token proof, once a server has signed one. ``decision_rows`` (governance's approval
    decisions, which it reads from its own table) are checked against the same proof, so a row
    inserted or edited behind the API's back is named too.
    """
    problems: list[str] = []
    proofs_seen = False
    first_server_signed: int | None = None  # the time of the first decision a server signed
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
        problem = _check_proof(conn, proof, event.actor, event.action, event.subject_id, fields,
                               bare_token_ok=first_server_signed is None)
        if first_server_signed is None and _server_signed(proof):
            first_server_signed = int(signed_part(proof).get("at") or 0)
        if problem:
            problems.append(f"audit event #{event.seq} ({event.action} by {event.actor} on {event.subject_id}) {problem}")
    for row in decision_rows:
        if row.proof is None and not proofs_seen:
            continue
        proof = orjson.loads(row.proof) if row.proof else None
        signed = signed_part(proof)
        action, subject = f"approval.{row.decision}", signed.get("subject") if isinstance(signed, dict) else ""
        fields = {"request_id": row.request_id, "comment": row.comment}
        problem = _check_proof(conn, proof, row.approver, action, str(subject), fields,
                               bare_token_ok=first_server_signed is None or row.created_ms < first_server_signed)
        if problem:
            problems.append(f"approval decision {row.id} ({row.decision} by {row.approver} on request "
                            f"{row.request_id}) {problem}")
    return problems
