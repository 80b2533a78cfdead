"""Governance endpoints for fairness reports and model cards (data validation: :mod:`.backend_evidence`)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import func, select

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import InvalidInput, NotFound
from slipway.core.events import Action, Subject
from slipway.core.ids import new_id
from slipway.governance.backend_evidence import EvidenceEndpoints
from slipway.governance.card_render import render
from slipway.governance.cards import build_card, check_section
from slipway.governance.fairness import SUMMARY_KEYS, summarise
from slipway.governance.records import CardRevision, FairnessReportInfo
from slipway.governance.refs import resolve_version, version_row
from slipway.lineage.backend import hide_for
from slipway.store.context import ServiceContext
from slipway.store.schema.governance import fairness_reports, model_card_sections

MAX_SECTION = 20_000


def _info(row: Any) -> FairnessReportInfo:
    return FairnessReportInfo(row.id, row.model, row.version, row.report_version, row.digest, orjson.loads(row.summary),
                              row.dataset, row.created_by, row.created_ms)


class ReportEndpoints:
    ctx: ServiceContext

    @endpoint("governance.validate")
    def record_fairness_report(self, ref: str, report: dict[str, Any], dataset: str | None = None) -> FairnessReportInfo:
        """Store a fairness report (from :func:`slipway.governance.fairness.fairness_report`) as a new
        versioned blob linked to the model version. Evidence a policy relies on: validators (and
        admins) only; ``dataset``, if named, must be a stored version, and the report records the
        model bundle's and the dataset's digests."""
        attributes = report.get("attributes") if isinstance(report, dict) else None
        if not isinstance(attributes, dict) or not attributes:
            raise InvalidInput("a fairness report needs an 'attributes' mapping (build it with fairness_report)")
        for name, body in attributes.items():
            missing = [k for k in SUMMARY_KEYS if not isinstance(body, dict) or k not in body]
            if missing:
                raise InvalidInput(f"fairness report attribute {name!r} lacks {missing}")
        summary = summarise(report)
        with self.ctx.db.read() as conn:
            model, number = resolve_version(conn, ref)
            bundle_digest = version_row(conn, model, number).bundle_digest
        inputs = {"model_bundle_digest": bundle_digest,
                  "dataset_digest": EvidenceEndpoints._dataset_version(self, dataset).digest if dataset else None}  # type: ignore[arg-type]
        report = {**report, "inputs": inputs}
        body = orjson.dumps({"model": model, "version": number, "dataset": dataset, **report}, option=orjson.OPT_SORT_KEYS)
        digest = self.ctx.blobs.put_bytes(body)  # the blob first: a row never points at a missing blob
        with self.ctx.db.write() as conn:
            last = conn.execute(select(func.max(fairness_reports.c.report_version)).where(
                fairness_reports.c.model == model, fairness_reports.c.version == number)).scalar()
            row = {"id": new_id(), "model": model, "version": number, "report_version": int(last or 0) + 1,
                   "digest": digest, "summary": orjson.dumps(summary).decode(), "dataset": dataset,
                   "created_by": self.ctx.principal.name, "created_ms": now_ms()}
            conn.execute(fairness_reports.insert().values(**row))
            self.ctx.audit(conn, Action.FAIRNESS_REPORT, Subject.MODEL_VERSION, f"{model}/{number}",
                           {"report_version": row["report_version"], "digest": digest, "dataset": dataset, "inputs": inputs,
                            "disparate_impact": {n: s["disparate_impact_ratio"] for n, s in summary.items()}})
            return _info(conn.execute(select(fairness_reports).where(fairness_reports.c.id == row["id"])).one())

    @endpoint("read")
    def fairness_reports(self, ref: str) -> list[FairnessReportInfo]:
        """Every fairness report of a version, newest first."""
        with self.ctx.db.read() as conn:
            model, number = resolve_version(conn, ref)
            rows = conn.execute(select(fairness_reports).where(fairness_reports.c.model == model, fairness_reports.c.version == number)
                                .order_by(fairness_reports.c.report_version.desc()))
            return [_info(r) for r in rows]

    @endpoint("read")
    def fairness_report(self, ref: str, report_version: int | None = None) -> dict[str, Any]:
        """The full JSON of a version's fairness report (the newest unless ``report_version`` is given)."""
        reports = self.fairness_reports(ref)
        chosen = [r for r in reports if report_version is None or r.report_version == report_version]
        if not chosen:
            raise NotFound(f"{ref} has no fairness report" + (f" version {report_version}" if report_version else ""))
        return orjson.loads(self.ctx.blobs.read_bytes(chosen[0].digest))

    @endpoint("read")
    def card(self, ref: str, format: str = "md") -> str:
        """The model card, as ``md``, ``html`` or ``json`` text. A caller bound to projects gets what
        it may read of the run, data and lineage, and the card names the projects left out."""
        with self.ctx.db.read() as conn:
            model, number = resolve_version(conn, ref)
            return render(build_card(conn, version_row(conn, model, number), hide_for(self.ctx.principal)), format)

    @endpoint("registry.write")
    def card_edit(self, ref: str, section: str, text: str) -> CardRevision:
        """Write a new revision of a human section of the card (earlier revisions are kept)."""
        check_section(section)
        if not isinstance(text, str) or len(text) > MAX_SECTION:
            raise InvalidInput(f"section text must be a string of at most {MAX_SECTION} characters")
        with self.ctx.db.write() as conn:
            model, number = resolve_version(conn, ref)
            version_row(conn, model, number)
            last = conn.execute(select(func.max(model_card_sections.c.revision)).where(
                model_card_sections.c.model == model, model_card_sections.c.version == number,
                model_card_sections.c.section == section)).scalar()
            revision = int(last or 0) + 1
            conn.execute(model_card_sections.insert().values(model=model, version=number, section=section, revision=revision,
                                                             text=text, edited_by=self.ctx.principal.name, created_ms=now_ms()))
            self.ctx.audit(conn, Action.CARD_EDIT, Subject.MODEL_VERSION, f"{model}/{number}", {"section": section, "revision": revision})
            return {"model": model, "version": number, "section": section, "revision": revision}

    @endpoint("audit.read")
    def export_evidence(self, ref: str) -> dict[str, str]:
        """The evidence pack of a version: its files by relative path (model card, intended use,
        lineage, evaluation and fairness reports, approvals with tickets, alias and deployment
        history, monitoring, and the audit events about the model with inclusion proofs in a signed
        checkpoint, plus ``verify_pack.py``). Needs ``audit.read``: the events name every actor. A
        caller bound to projects gets the lineage it may read; ``lineage_hidden`` in the manifest
        names the projects left out."""
        from slipway.governance.evidence_pack import build_pack

        with self.ctx.db.read() as conn:
            model, number = resolve_version(conn, ref)
            return build_pack(self.ctx, conn, version_row(conn, model, number), hide=hide_for(self.ctx.principal))
