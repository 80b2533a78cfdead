"""What a policy is evaluated against, read from the store: the version's metrics snapshot, its
latest fairness report, its model-card sections, data validation results and approvals."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from slipway.core.events import Action, Subject
from slipway.store.schema.core import audit_events
from slipway.store.schema.governance import (
    approval_decisions,
    approval_requests,
    fairness_reports,
    model_card_sections,
)

# Who may produce a verdict a policy accepts (see slipway.governance.backend_evidence).
TRUSTED_SOURCES = ("platform", "validator")


def latest_fairness_summary(conn: Connection, model: str, version: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(fairness_reports.c.summary)
        .where(fairness_reports.c.model == model, fairness_reports.c.version == version)
        .order_by(fairness_reports.c.report_version.desc()).limit(1)
    ).first()
    return orjson.loads(row.summary) if row else None


def card_sections(conn: Connection, model: str, version: int) -> dict[str, dict[str, Any]]:
    """The newest revision of each human-written card section: {section: {text, revision, edited_by}}."""
    newest = (
        select(model_card_sections.c.section, func.max(model_card_sections.c.revision).label("revision"))
        .where(model_card_sections.c.model == model, model_card_sections.c.version == version)
        .group_by(model_card_sections.c.section).subquery()
    )
    rows = conn.execute(
        select(model_card_sections).join(
            newest, (newest.c.section == model_card_sections.c.section) & (newest.c.revision == model_card_sections.c.revision)
        ).where(model_card_sections.c.model == model, model_card_sections.c.version == version)
    )
    return {r.section: {"text": r.text, "revision": r.revision, "edited_by": r.edited_by, "edited_ms": r.created_ms}
            for r in rows}


def approvals_of(conn: Connection, model: str, version: int) -> tuple[int, list[dict[str, Any]]]:
    """Approvals on the version's newest approved-or-open request, and all its decisions."""
    request = conn.execute(
        select(approval_requests.c.id)
        .where(approval_requests.c.model == model, approval_requests.c.version == version,
               approval_requests.c.status.in_(("open", "approved")))
        .order_by(approval_requests.c.created_ms.desc()).limit(1)
    ).first()
    if request is None:
        return 0, []
    decisions = [
        {"approver": r.approver, "decision": r.decision, "comment": r.comment, "created_ms": r.created_ms}
        for r in conn.execute(select(approval_decisions).where(approval_decisions.c.request_id == request.id)
                              .order_by(approval_decisions.c.created_ms))
    ]
    return sum(d["decision"] == "approve" for d in decisions), decisions


def data_validation(conn: Connection, datasets: list[dict[str, Any]]) -> tuple[bool, str]:
    """Whether every training dataset version has a passing validation result in the ledger.

    A verdict is an audit event ``data.validation`` on the dataset version whose ``source`` is
    ``platform`` (computed from the stored data) or ``validator`` (recorded by the validator role);
    verdicts from anywhere else are not evidence. Without one the requirement cannot be evaluated,
    which fails it with that reason.
    """
    if not datasets:
        return False, "cannot be evaluated: the version records no training dataset"
    for entry in datasets:
        ref = f"{entry.get('dataset')}@{entry.get('version')}"
        rows = conn.execute(
            select(audit_events.c.details)
            .where(audit_events.c.action == "data.validation", audit_events.c.subject_id == ref)
            .order_by(audit_events.c.seq.desc())
        )
        details = next((d for d in (orjson.loads(r.details) for r in rows) if d.get("source") in TRUSTED_SOURCES), None)
        if details is None:
            return False, (f"cannot be evaluated: no data validation result recorded for {ref} by the platform "
                           "or a validator")
        if not details.get("passed"):
            return False, f"the latest data validation of {ref} failed"
    return True, "every training dataset version passed validation"


def data_validations(conn: Connection, ref: str, limit: int = 20) -> list[dict[str, Any]]:
    """The validation verdicts recorded on dataset version ``ref`` (``NAME@N``), newest first: each
    event's details with who recorded it (``actor``) and when (``ts``)."""
    rows = conn.execute(
        select(audit_events.c.details, audit_events.c.actor, audit_events.c.ts)
        .where(audit_events.c.subject_kind == Subject.DATASET_VERSION.value, audit_events.c.subject_id == ref,
               audit_events.c.action == Action.DATA_VALIDATION.value)
        .order_by(audit_events.c.seq.desc()).limit(limit)
    )
    return [{**orjson.loads(r.details), "actor": r.actor, "ts": r.ts} for r in rows]
