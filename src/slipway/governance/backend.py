"""``GovernanceBackend``: the governance API, one endpoint group per concept.

Lifecycle and policies (:mod:`.backend_lifecycle`), approvals (:mod:`.backend_approvals`) and
ticketed sign-off (:mod:`.backend_tickets`),
fairness reports and model cards (:mod:`.backend_reports`), data validation verdicts
(:mod:`.backend_evidence`), webhooks (:mod:`slipway.webhooks.backend`), the record of GitOps
applies (:mod:`.backend_platform`).
"""

from __future__ import annotations

from slipway.governance.alias_history import AliasHistoryEndpoints
from slipway.governance.backend_evidence import EvidenceEndpoints
from slipway.governance.backend_lifecycle import LifecycleEndpoints
from slipway.governance.backend_platform import PlatformEndpoints
from slipway.governance.backend_reports import ReportEndpoints
from slipway.governance.backend_tickets import TicketEndpoints
from slipway.store.context import ServiceContext
from slipway.webhooks.backend import WebhookEndpoints


class GovernanceBackend(LifecycleEndpoints, TicketEndpoints, ReportEndpoints, EvidenceEndpoints, WebhookEndpoints,
                        AliasHistoryEndpoints, PlatformEndpoints):
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
