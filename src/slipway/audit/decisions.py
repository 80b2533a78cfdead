"""The identity check ``audit verify`` runs: every approval, rejection and protected-alias move
carries a proof (a bearer token through the server, an Ed25519 signature by the decider's
registered key embedded) that still holds (:mod:`slipway.identity.proof`)."""

from __future__ import annotations

from slipway.audit.checks import CheckContext
from slipway.audit.records import Problem
from slipway.identity.proof import check_decision_signatures


def check_decisions(context: CheckContext) -> list[Problem]:
    return [Problem("decisions", message) for message in check_decision_signatures(context.conn)]
