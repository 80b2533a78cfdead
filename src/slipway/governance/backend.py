"""``GovernanceBackend``: the governance API, one endpoint group per concept.

Lifecycle and policies (:mod:`.backend_lifecycle`), approvals (:mod:`.backend_approvals`) and
ticketed sign-off (:mod:`.backend_tickets`),
fairness reports and model cards (:mod:`.backend_reports`), data validation verdicts
(:mod:`.backend_evidence`), webhooks (:mod:`slipway.webhooks.backend`), the record of GitOps
applies (:mod:`.backend_platform`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from slipway.governance.alias_history import AliasHistoryEndpoints
from slipway.governance.backend_evidence import EvidenceEndpoints
from slipway.governance.backend_lifecycle import LifecycleEndpoints
from slipway.governance.backend_platform import PlatformEndpoints
from slipway.governance.backend_reports import ReportEndpoints
from slipway.governance.backend_tickets import TicketEndpoints
from slipway.store.context import ServiceContext
from slipway.store.projects import (
    DEFAULT_PROJECT,
    ProjectScope,
    check_project,
    dataset_version_project,
    model_project,
    ref_project,
    request_project,
    scoped_by,
)
from slipway.webhooks.backend import WebhookEndpoints


def _policy_target(conn: Connection, arguments: dict[str, Any]) -> set[str]:
    """A model's policy is set in the model's project; a risk tier's is global (admins, approvers)."""
    if arguments.get("scope") == "model":
        return model_project(conn, arguments.get("target")) or {DEFAULT_PROJECT}
    return set()


# A project-scoped principal's call is authorised in the project of the model it concerns (by
# reference, name, approval request or check) or of the dataset version it validates. Policies
# are readable by all; approval requests and alias history list readable models only. Webhooks,
# risk-tier policies, ticket sweeps and platform applies need a global role.
GOVERNANCE_SCOPE = ProjectScope(
    {"ref": ref_project, "model": model_project, "request_id": request_project, "check_id": check_project,
     "dataset_version": dataset_version_project},
    listings=frozenset({"list_requests", "aliases_at"}),
    open=frozenset({"list_policies"}),
    extra=_policy_target,
)


class GovernanceBackend(LifecycleEndpoints, TicketEndpoints, ReportEndpoints, EvidenceEndpoints, WebhookEndpoints,
                        AliasHistoryEndpoints, PlatformEndpoints):
    _projects_of = scoped_by(GOVERNANCE_SCOPE)

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
