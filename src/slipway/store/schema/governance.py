"""Governance: approval requests and decisions, policies and their signed check results,
fairness reports and model-card sections (webhooks are in :mod:`.webhooks`).

Model versions are referred to by model name and version number (the natural reference users
type), not by foreign key, so governance records survive a registry that renames nothing.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from slipway.store.schema.base import DIGEST, ID, NAME, id_column, metadata, ms_column

approval_requests = Table(
    "approval_requests",
    metadata,
    id_column(),
    Column("model", NAME, nullable=False),
    Column("version", Integer, nullable=False),
    Column("requested_by", NAME, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(20), nullable=False),  # open | approved | rejected | cancelled
    Column("required", Integer, nullable=False),
    Column("external_ref", String(200), nullable=True),  # e.g. a ServiceNow change request sys_id
    Column("ticket_number", String(40), nullable=True),  # e.g. CHG0030001 (ticketed sign-off)
    # Fixed when approval is requested: later changes to the model's tier or policy never lower them.
    Column("risk_tier", String(50), nullable=True),
    Column("policy_id", ID, nullable=True),
    ms_column("created_ms"),
    ms_column("decided_ms", nullable=True),
    Index("ix_approval_requests_model_version", "model", "version"),
)

approval_decisions = Table(
    "approval_decisions",
    metadata,
    id_column(),
    Column("request_id", ID, ForeignKey("approval_requests.id"), nullable=False),
    Column("approver", NAME, nullable=False),
    Column("decision", String(10), nullable=False),  # approve | reject
    Column("comment", Text, nullable=False),
    # Who decided, proved: {"scheme": "token"} through the server, or the Ed25519 signature of a key
    # registered to the approver in embedded mode (slipway.identity.proof).
    Column("proof", Text, nullable=True),
    ms_column("created_ms"),
    # Distinct approvers: one decision per person per request.
    UniqueConstraint("request_id", "approver", name="uq_approval_decisions_request_approver"),
)

policies = Table(
    "policies",
    metadata,
    id_column(),
    Column("scope", String(10), nullable=False),  # model | tier
    Column("target", NAME, nullable=False),  # a model name or a risk tier
    Column("revision", Integer, nullable=False),
    Column("source", Text, nullable=False),  # the YAML as written
    Column("digest", DIGEST, nullable=False),
    Column("created_by", NAME, nullable=False),
    ms_column("created_ms"),
    UniqueConstraint("scope", "target", "revision", name="uq_policies_scope_target_revision"),
)

policy_checks = Table(
    "policy_checks",
    metadata,
    id_column(),
    Column("model", NAME, nullable=False),
    Column("version", Integer, nullable=False),
    Column("target_state", String(30), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("policy_digest", String(64), nullable=True),
    Column("results", Text, nullable=False),  # JSON list of requirement outcomes
    Column("signature", String(64), nullable=False),  # HMAC-SHA256 of the canonical result
    Column("checked_by", NAME, nullable=False),
    ms_column("created_ms"),
    Index("ix_policy_checks_model_version", "model", "version"),
)

fairness_reports = Table(
    "fairness_reports",
    metadata,
    id_column(),
    Column("model", NAME, nullable=False),
    Column("version", Integer, nullable=False),
    Column("report_version", Integer, nullable=False),
    Column("digest", DIGEST, nullable=False),  # the full JSON report, a blob
    Column("summary", Text, nullable=False),  # JSON: headline metrics per sensitive attribute
    Column("dataset", String(300), nullable=True),
    Column("created_by", NAME, nullable=False),
    ms_column("created_ms"),
    UniqueConstraint("model", "version", "report_version", name="uq_fairness_reports_model_version_report"),
)

model_card_sections = Table(
    "model_card_sections",
    metadata,
    Column("model", NAME, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("section", String(50), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("edited_by", NAME, nullable=False),
    ms_column("created_ms"),
)
