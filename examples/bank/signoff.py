"""Sign-off of a model version: the validator's fairness evidence (credit), the team's model card,
the approval request that opens a ServiceNow change (evidence attached), the CAB's approval in
ServiceNow, the relay that records it as the approval of record, and the move to champion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from teams import CAB, Bank
from ticketing import ServiceNowServer

from slipway import NotFound, SlipwayError, Workspace

CARDS = {
    "fraud": {
        "intended_use": "Scores each card transaction for fraud in real time; transactions above the alert "
                        "threshold go to the fraud analysts' queue. Trained on the platform's shared customer "
                        "spending and terminal risk features.",
        "limitations": "Trained on simulated transactions (Le Borgne et al.'s handbook design): three fraud "
                       "scenarios only. Terminal risk is a week late by design (labels arrive late).",
    },
    "credit": {
        "intended_use": "Pre-screens consumer credit applications; a decline is reviewed by a credit officer.",
        "limitations": "1,000 historical German applicants; card spending comes from a simulation linked to them.",
        "ethical_considerations": "Sex and age are not model inputs; the training rows are reweighed by sex. "
                                  "Fairness by sex and age band is measured on held-out applicants by model "
                                  "validation and gated by policy.",
    },
}


def edit_card(ws: Workspace, ref: str) -> None:
    """The team's sections of the model card (a revision only when the text changed)."""
    for section, text in CARDS[ref.split("/")[0]].items():
        ws.governance.edit_card(ref, section, text)


def record_fairness(vera: Workspace, ref: str, test: pd.DataFrame, columns: list[str], dataset: str) -> dict[str, Any]:
    """The validator's fairness report on the held-out applicants, by sex and by age band."""
    report = vera.governance.evaluate_fairness(ref, test[[*columns, "good", "sex", "age_band"]], label="good",
                                               sensitive=["sex", "age_band"], positive_label=1, features=columns,
                                               dataset=dataset)
    return dict(report)


def open_request(ws: Workspace, ref: str, reason: str) -> Any:
    """The open approval request of ``ref``, or a new one (which opens the ServiceNow change)."""
    model = ref.split("/")[0]
    for request in ws.governance.list_requests(model, "open"):
        if f"{request.model}/{request.version}" == ref:
            return request
    return ws.governance.request_approval(ref, reason)


def sign_off(bank: Bank, snow: ServiceNowServer, requester: str, ref: str, reason: str,
             say: Callable[[str], None]) -> dict[str, Any]:
    """Request approval of ``ref`` as ``requester``; the CAB approves the change in ServiceNow;
    the ``servicenow`` account records it. Returns ``{"ticket", "request", "state"}``."""
    ws = bank[requester]
    state = ws.governance.status(ref).state
    if state not in ("registered", "validated", "pending_approval"):  # signed off (or retired) before
        request = next((r for r in ws.governance.list_requests(ref.split("/")[0])
                        if f"{r.model}/{r.version}" == ref and r.status == "approved"), None)
        say(f"{ref} is already {state} (change {request.ticket_number if request else '?'})")
        return {"ticket": request.ticket_number if request else None, "request": request.id if request else None,
                "state": state}
    edit_card(ws, ref)
    request = open_request(ws, ref, reason)
    number = request.ticket_number
    if not number:
        raise SystemExit(f"no ServiceNow change was opened for {ref}: {request.blocked_by}")
    say(f"{requester} asked for approval of {ref} (request {request.id}): ServiceNow change {number} opened, "
        f"evidence attached, {request.required} approvals needed")
    try:
        ws.governance.promote(ref, "champion")
        raise SystemExit(f"{ref} became champion before its change {number} was approved")
    except SlipwayError as err:
        say(f"  {requester} promoting {ref} before sign-off: refused ({type(err).__name__}: {err.message})")
    for member in CAB:
        answer = snow.decide(number, member, "approved", f"CAB: {ref} reviewed with its evidence pack")
        if answer.status_code != 200:
            raise SystemExit(f"ServiceNow refused {member}'s approval of {number}: {answer.text}")
    say(f"  the CAB ({', '.join(CAB)}) approved change {number} in ServiceNow")
    (result,) = bank["servicenow"].governance.sync_tickets(request.id)
    say(f"  tickets sync (as servicenow): {result.outcome}: {result.detail}")
    state = ws.governance.status(ref).state
    if state != "approved":
        raise SystemExit(f"{ref} is {state} after its change {number} was approved: {result.detail}")
    return {"ticket": number, "request": request.id, "state": state}


def promote(ws: Workspace, ref: str, say: Callable[[str], None]) -> None:
    """Point ``champion`` at ``ref`` unless the model has a champion already (an earlier run's, or
    the canary the controller promoted since). A protected alias: the policy runs again."""
    model = ref.split("/")[0]
    try:
        current = ws.registry.resolve(f"{model}@champion")
    except NotFound:
        current = None
    if current is not None:
        say(f"{model}@champion is {current.ref}")
        return
    ws.governance.promote(ref, "champion")
    say(f"{model}@champion -> {ref} (protected alias: policy re-checked)")
