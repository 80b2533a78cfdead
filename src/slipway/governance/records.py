"""The records governance endpoints return (they cross the HTTP boundary in remote mode)."""

from __future__ import annotations

from typing import Any, TypedDict

from slipway.core.records import record


@record
class VersionStatus:
    """Where a model version stands: its state, the transitions open to it, and its approvals."""

    model: str
    version: int
    state: str
    risk_tier: str
    owner: str
    allowed_next: list[str]
    aliases: list[str]
    open_request: str | None
    last_check: dict[str, Any] | None


@record
class Decision:
    approver: str
    decision: str
    comment: str
    created_ms: int
    ticket: str | None = None  # the change request (e.g. CHG0030001) this decision was taken from


@record
class ApprovalRequest:
    id: str
    model: str
    version: int
    requested_by: str
    reason: str
    status: str
    required: int
    approvals: int
    decisions: list[Decision]
    external_ref: str | None
    created_ms: int
    decided_ms: int | None
    blocked_by: str | None = None
    ticket_number: str | None = None  # the change request ticketed sign-off opened (e.g. CHG0030001)


@record
class TicketSync:
    """What ``tickets sync`` did with one approval request's change request."""

    request_id: str
    ref: str
    ticket_number: str | None
    ticket_state: str | None
    ticket_approval: str | None
    outcome: str  # opened | waiting | approved | rejected | blocked | closed | failed
    detail: str
    status: str  # the approval request's status afterwards


@record
class RequirementOutcome:
    """One line of a policy and how the version fared against it."""

    requirement: str
    passed: bool
    detail: str


@record
class CheckResult:
    """A signed policy evaluation; :meth:`GovernanceService.verify_check` re-checks the signature."""

    id: str
    model: str
    version: int
    target_state: str
    passed: bool
    policy: str | None
    policy_digest: str | None
    outcomes: list[RequirementOutcome]
    signature: str
    checked_by: str
    created_ms: int

    @property
    def failures(self) -> list[RequirementOutcome]:
        return [o for o in self.outcomes if not o.passed]


@record
class PolicyInfo:
    scope: str
    target: str
    revision: int
    digest: str
    source: str
    created_by: str
    created_ms: int


@record
class FairnessReportInfo:
    id: str
    model: str
    version: int
    report_version: int
    digest: str
    summary: dict[str, Any]
    dataset: str | None
    created_by: str
    created_ms: int


class AliasHolder(TypedDict):
    """The version an alias pointed at, at some moment: who moved it there and since when."""

    model: str
    alias: str
    version: int
    set_by: str
    since_ms: int


class AliasMove(TypedDict):
    """One move of an alias (``version`` None: the alias was removed), by whom and when."""

    alias: str
    version: int | None
    set_by: str
    at_ms: int


class CardRevision(TypedDict):
    """A revision of a human section of a model card."""

    model: str
    version: int
    section: str
    revision: int


class DataValidation(TypedDict):
    """A recorded verdict on a dataset version (at most 50 anomalies are kept)."""

    passed: bool
    rows: int
    errors: int
    anomalies: list[dict[str, Any]]
    source: str
    inputs: dict[str, Any]
