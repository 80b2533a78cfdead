"""``ws.governance``: lifecycle, approvals, policies, fairness, model cards, webhooks, history.

Everything is a call to the governance backend (embedded or over HTTP), except fairness
evaluation, which runs the model where the data is (here) and sends the report to be stored::

    gov = ws.governance
    gov.set_policy(open("credit-policy.yaml").read(), tier="high")
    gov.evaluate_fairness("credit/3", test_df, label="CLASSIFICATION", sensitive=["sex"], positive_label=1)
    request = gov.request_approval("credit/3", "quarterly refresh")
    # as a second person:
    gov.approve(request.id, "reviewed the fairness report")
    gov.promote("credit/3", "champion")
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from slipway.core.clock import parse_time
from slipway.core.errors import InvalidInput
from slipway.core.hashing import hash_bytes
from slipway.governance.fairness import fairness_report
from slipway.governance.records import (
    AliasHolder,
    AliasMove,
    ApprovalRequest,
    CardRevision,
    CheckResult,
    DataValidation,
    FairnessReportInfo,
    PolicyInfo,
    TicketSync,
    VersionStatus,
)
from slipway.store.context import Host
from slipway.webhooks.records import WebhookAdded

if TYPE_CHECKING:
    from slipway.governance.backend import GovernanceBackend


def _as_frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "to_pandas"):  # a pyarrow Table or RecordBatch
        return data.to_pandas()
    raise InvalidInput(f"fairness data must be a pandas DataFrame or a pyarrow Table, got {type(data).__name__}")


class GovernanceService:
    def __init__(self, host: Host) -> None:
        self._host = host
        self._backend: GovernanceBackend = host.backend("governance")

    # lifecycle -------------------------------------------------------------------------------
    def status(self, ref: str) -> VersionStatus:
        """State, allowed next states, aliases, open approval request and last policy check."""
        return self._backend.status(ref)

    def transition(self, ref: str, to_state: str, reason: str = "") -> VersionStatus:
        """Move a version to another state (checked, policy-gated for validated/deployed, audited)."""
        return self._backend.transition(ref, to_state, reason)

    def promote(self, ref: str, alias: str) -> VersionStatus:
        """Point an alias at a version; protected aliases need an approved version passing its policy."""
        return self._backend.promote(ref, alias)

    # approvals -------------------------------------------------------------------------------
    def request_approval(self, ref: str, reason: str) -> ApprovalRequest:
        """Put a version up for approval; its policy (all but the approvals count) must pass.

        Raises:
            Conflict: the state does not allow it, a request is open, or the policy fails (named).
        """
        return self._backend.request_approval(ref, reason)

    def decide(self, request_id: str, decision: str, comment: str = "") -> ApprovalRequest:
        """``approve`` or ``reject`` a request.

        Raises:
            PermissionDenied: the caller requested it, or lacks ``governance.approve``.
            Conflict: the caller already decided, or the request is closed.
        """
        return self._backend.decide(request_id, decision, comment)

    def approve(self, request_id: str, comment: str = "") -> ApprovalRequest:
        return self.decide(request_id, "approve", comment)

    def reject(self, request_id: str, comment: str) -> ApprovalRequest:
        return self.decide(request_id, "reject", comment)

    def recheck(self, request_id: str) -> ApprovalRequest:
        """Complete an approval that was blocked by its policy, if the policy passes now."""
        return self._backend.recheck(request_id)

    def list_requests(self, model: str | None = None, status: str | None = None, limit: int = 100) -> list[ApprovalRequest]:
        """Approval requests, newest first, optionally for one model or status."""
        return self._backend.list_requests(model, status, limit)

    def get_request(self, request_id: str) -> ApprovalRequest:
        """One approval request with its decisions."""
        return self._backend.get_request(request_id)

    # policies --------------------------------------------------------------------------------
    def set_policy(self, source: str | Path, *, model: str | None = None, tier: str | None = None) -> PolicyInfo:
        """Store a policy (YAML text or a path to a YAML file) for one model or one risk tier."""
        if model is not None and tier is None:
            scope, target = "model", model
        elif tier is not None and model is None:
            scope, target = "tier", tier
        else:
            raise InvalidInput("give exactly one of model= or tier=")
        text = Path(source).read_text() if isinstance(source, Path) else source
        return self._backend.set_policy(scope, target, text)

    def retire_policy(self, *, model: str | None = None, tier: str | None = None) -> PolicyInfo:
        """Retire the policy of one model or one risk tier (a new, empty revision; history kept)."""
        if (model is None) == (tier is None):
            raise InvalidInput("give exactly one of model= or tier=")
        scope, target = ("model", model) if model is not None else ("tier", tier)
        return self._backend.retire_policy(scope, str(target))

    def list_policies(self) -> list[PolicyInfo]:
        """The policy in force for each model and risk tier that has one."""
        return self._backend.list_policies()

    def get_policy(self, ref: str) -> PolicyInfo | None:
        """The policy that applies to a version: its model's own, else its risk tier's."""
        return self._backend.get_policy(ref)

    def check(self, ref: str, target_state: str = "approved") -> CheckResult:
        """Evaluate the version's policy and store a signed result."""
        return self._backend.check(ref, target_state)

    def verify_check(self, check_id: str) -> bool:
        """Whether a stored check result still matches its HMAC signature."""
        return self._backend.verify_check(check_id)

    # fairness --------------------------------------------------------------------------------
    def evaluate_fairness(self, model: Any, data: Any, label: str, sensitive: list[str], positive_label: Any = 1, *,
                          ref: str | None = None, features: list[str] | None = None, min_group_size: int = 30,
                          dataset: str | None = None, record: bool = True) -> dict[str, Any]:
        """Evaluate group fairness and (when the model is a registered version) store the report.

        Args:
            model: a reference like ``credit/3`` (loaded through the registry), or any object with
                ``predict`` (a Predictor or an estimator; then pass ``ref=`` to store the report).
            data: a pandas DataFrame or pyarrow Table holding features, label and sensitive columns.
            sensitive: one or more columns; their intersection is reported too.
            features: the columns the model reads (default: every column but the label).
        Returns:
            The full report, with ``"stored"`` (a FairnessReportInfo) when it was recorded.
        """
        frame = _as_frame(data)
        missing = [c for c in [label, *sensitive, *(features or [])] if c not in frame.columns]
        if missing:
            raise InvalidInput(f"columns {missing} are not in the data; it has {list(frame.columns)[:30]}")
        if isinstance(model, str):
            ref = ref or model
            model = self._host.service("registry").load(model)
        if not hasattr(model, "predict"):
            raise InvalidInput(f"model must be a reference or have predict(), got {type(model).__name__}")
        inputs = frame[features] if features else frame.drop(columns=[label])
        predictions = np.asarray(model.predict(inputs)).ravel()
        report = fairness_report(frame[label].to_numpy(), predictions, frame[list(sensitive)], positive_label, min_group_size)
        if record and ref:
            report["stored"] = self._backend.record_fairness_report(ref, report, dataset)
        return report

    def fairness_reports(self, ref: str) -> list[FairnessReportInfo]:
        """Every stored fairness report of a version, newest first."""
        return self._backend.fairness_reports(ref)

    def fairness_report(self, ref: str, report_version: int | None = None) -> dict[str, Any]:
        """The full JSON of a stored fairness report (the newest by default)."""
        return self._backend.fairness_report(ref, report_version)

    def validate_data(self, dataset_version: str, schema: Any = None) -> DataValidation:
        """Validate a dataset version and record the verdict for policies.

        Without ``schema`` the platform validates the stored version against its dataset's stored
        schema (on the server in remote mode); a verdict against another ``schema`` is computed
        here and can be recorded only by a validator (its schema recorded by digest).
        """
        data = self._host.service("data")
        found = data.get_version(dataset_version)
        if schema is None:
            return self._backend.validate_dataset(f"{found.name}@{found.version}")
        report = data.validate(f"{found.name}@{found.version}", schema)
        anomalies = [{"kind": a.kind, "column": a.column, "severity": a.severity, "detail": a.detail}
                     for a in report.anomalies]
        schema_text = schema if isinstance(schema, str) else orjson.dumps(schema, default=str).decode()
        return self._backend.record_data_validation(
            f"{found.name}@{found.version}", report.ok, report.rows, anomalies, hash_bytes(schema_text.encode()))

    def data_validations(self, dataset_version: str, limit: int = 20) -> list[dict[str, Any]]:
        """The validation verdicts recorded on a dataset version (``NAME@N``), newest first."""
        return self._backend.data_validations(dataset_version, limit)

    # model cards -----------------------------------------------------------------------------
    def card(self, ref: str, format: str = "md") -> str:
        """The model card as Markdown (``md``), ``html`` or ``json`` text."""
        return self._backend.card(ref, format)

    def edit_card(self, ref: str, section: str, text: str) -> CardRevision:
        """Write a new revision of a human-written card section (earlier revisions are kept)."""
        return self._backend.card_edit(ref, section, text)

    # webhooks --------------------------------------------------------------------------------
    def add_webhook(self, url: str, event_types: list[str], kind: str = "generic", secret: str | None = None) -> WebhookAdded:
        """Subscribe ``url`` (``kind`` generic or servicenow); returns the webhook and its secret."""
        return self._backend.add_webhook(url, list(event_types), kind, secret)

    def list_webhooks(self) -> list[Any]:
        """Webhook subscriptions (secrets are never returned)."""
        return self._backend.list_webhooks()

    def set_webhook_active(self, webhook_id: str, active: bool) -> Any:
        """Pause or resume a subscription."""
        return self._backend.set_webhook_active(webhook_id, active)

    def deliveries(self, webhook_id: str | None = None, status: str | None = None, limit: int = 100) -> list[Any]:
        """The delivery log, newest first, with every attempt."""
        return self._backend.deliveries(webhook_id, status, limit)

    def dispatch(self, limit: int = 100) -> Any:
        """Send due deliveries now (embedded use; servers dispatch in the background)."""
        return self._backend.dispatch(limit)

    def servicenow_callback(self, body: dict[str, Any], timestamp: int, signature: str) -> ApprovalRequest:
        """Record a ticketing system's signed verdict as the calling service account's decision."""
        return self._backend.servicenow_callback(body, timestamp, signature)

    def sync_tickets(self, request_id: str | None = None) -> list[TicketSync]:
        """Ticketed sign-off: open missing change requests and record each ticket's verdict as its
        approver's decision (needs ``[governance.servicenow] instance_url``)."""
        return self._backend.sync_tickets(request_id)

    def record_platform_apply(self, folder: str, commit: str | None, dirty: bool,
                              changes: list[dict[str, str]]) -> dict[str, Any]:
        """Record a ``slipway apply`` of ``folder`` at Git ``commit`` in the audit ledger."""
        return self._backend.record_platform_apply(folder, commit, dirty, changes)

    # evidence ---------------------------------------------------------------------------------
    def export_evidence(self, ref: str, out: str | Path) -> Path:
        """Write the evidence pack of ``ref`` to ``out``: a folder, or a zip when ``out`` ends in
        ``.zip``. An existing non-empty folder or file is refused. Check it offline with
        ``python OUT/verify_pack.py`` or ``slipway audit verify-pack OUT``.

        Raises:
            InvalidInput: ``out`` exists, or no signed checkpoint of the ledger can be had.
        """
        from slipway.governance.evidence_pack import pack_zip

        target = Path(out)
        if target.exists() and (target.is_file() or any(target.iterdir())):
            raise InvalidInput(f"{target} already exists; give a new folder or zip path")
        files = self._backend.export_evidence(ref)
        if target.suffix == ".zip":
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            partial.write_bytes(pack_zip(files))
            partial.replace(target)
            return target
        partial = target.with_name(target.name + ".partial")
        if partial.exists():
            shutil.rmtree(partial)
        for name, text in files.items():
            if name.startswith("/") or ".." in Path(name).parts:
                raise InvalidInput(f"the evidence pack names a file outside itself: {name!r}")
            path = partial / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        if target.exists():
            target.rmdir()
        partial.replace(target)
        return target

    # history ---------------------------------------------------------------------------------
    def aliases_at(self, when: str | int, model: str | None = None) -> list[AliasHolder]:
        """Which version held each alias at ``when`` (ISO 8601, or epoch milliseconds)."""
        at_ms = when if isinstance(when, int) else parse_time(str(when))
        return self._backend.aliases_at(at_ms, model)

    def alias_history(self, model: str, limit: int = 200) -> list[AliasMove]:
        """Every move and removal of ``model``'s aliases, newest first (``version`` None: removed)."""
        return self._backend.alias_history(model, limit)
