"""Model cards: generated from what the platform knows, plus human-written sections.

The generated part (owner, risk tier, training and evaluation data with their versions, metrics,
fairness results, approvals with approvers and comments, lineage) is read fresh each time; the
human sections are stored with a revision number per edit, so every earlier wording is kept and
the card's ``revision`` says which edit it reflects.

A caller bound to projects gets the card the lineage route would show it (``hide``, from
:func:`slipway.lineage.backend.hide_for`): the run, training and evaluation data and lineage edges
of projects it may not read are left out, and ``lineage_hidden`` names those projects. A caller
reading everywhere gets the whole card, without that key.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, or_, select

from slipway.core.errors import InvalidInput
from slipway.governance.approvals import request_record
from slipway.governance.evidence import card_sections
from slipway.lineage.graph import Hide, Node
from slipway.registry.aliases import aliases_of_version
from slipway.store.schema.core import lineage_edges
from slipway.store.schema.governance import approval_requests, fairness_reports

SECTIONS = ("intended_use", "out_of_scope_use", "limitations", "ethical_considerations", "training_data_notes",
            "evaluation_notes", "caveats_and_recommendations")


def check_section(section: str) -> str:
    if section not in SECTIONS:
        raise InvalidInput(f"unknown model-card section {section!r}; editable sections: {', '.join(SECTIONS)}")
    return section


def _fairness(conn: Connection, model: str, version: int) -> dict[str, Any] | None:
    row = conn.execute(select(fairness_reports).where(fairness_reports.c.model == model, fairness_reports.c.version == version)
                       .order_by(fairness_reports.c.report_version.desc()).limit(1)).first()
    if row is None:
        return None
    return {"report_version": row.report_version, "digest": row.digest, "dataset": row.dataset,
            "created_by": row.created_by, "created_ms": row.created_ms, "summary": orjson.loads(row.summary)}


def _lineage(conn: Connection, subject: str, hidden: dict[Node, str] | None = None,
             hide: Hide | None = None) -> list[dict[str, str]]:
    """The edges into and out of the version, without those whose far end ``hide`` leaves out
    (added to ``hidden``): one hop of the lineage walk, so it asks the same question of each node."""
    rows = list(conn.execute(select(lineage_edges).where(or_(
        (lineage_edges.c.dst_kind == "model_version") & (lineage_edges.c.dst_id == subject),
        (lineage_edges.c.src_kind == "model_version") & (lineage_edges.c.src_id == subject))).order_by(lineage_edges.c.id)))
    if hide is not None and hidden is not None:
        far = [(r.src_kind, r.src_id) if (r.dst_kind, r.dst_id) == ("model_version", subject) else (r.dst_kind, r.dst_id)
               for r in rows]
        hidden.update(hide(conn, list(dict.fromkeys(far))))
        rows = [r for r, node in zip(rows, far, strict=True) if node not in hidden]
    return [{"src": f"{r.src_kind}:{r.src_id}", "relation": r.relation, "dst": f"{r.dst_kind}:{r.dst_id}"} for r in rows]


def _readable_parts(conn: Connection, row: Any, datasets: list[dict[str, Any]], hidden: dict[Node, str],
                    hide: Hide | None) -> tuple[str | None, list[dict[str, Any]]]:
    """The version's run and dataset versions the caller may see (all of them when ``hide`` is None)."""
    if hide is None:
        return row.run_id, datasets
    nodes = [("dataset_version", f"{d.get('dataset')}@{d.get('version')}") for d in datasets]
    hidden.update(hide(conn, nodes + ([("run", row.run_id)] if row.run_id else [])))
    kept = [d for d, node in zip(datasets, nodes, strict=True) if node not in hidden]
    return (None if ("run", row.run_id) in hidden else row.run_id), kept


def build_card(conn: Connection, row: Any, hide: Hide | None = None) -> dict[str, Any]:
    """The card of one version as a JSON-able mapping; ``hide`` leaves out what the caller may not
    read (see the module docstring)."""
    model, number = row.model_name, row.version
    recorded = orjson.loads(row.datasets or "[]")
    hidden: dict[Node, str] = {}
    run_id, datasets = _readable_parts(conn, row, recorded, hidden, hide)
    lineage = _lineage(conn, f"{model}/{number}", hidden, hide)
    sections = card_sections(conn, model, number)
    requests = [request_record(conn, r) for r in conn.execute(
        select(approval_requests).where(approval_requests.c.model == model, approval_requests.c.version == number)
        .order_by(approval_requests.c.created_ms))]
    aliases = aliases_of_version(conn, row.model_id, number)
    return {
        "model": model, "version": number, "state": row.state, "owner": row.owner, "risk_tier": row.risk_tier,
        "description": row.description or row.model_description, "flavor": row.flavor, "run_id": run_id,
        "bundle_digest": row.bundle_digest, "created_by": row.created_by, "created_ms": row.created_ms,
        "aliases": aliases,
        "training_data": [d for d in datasets if d.get("context", "training") == "training"],
        "evaluation_data": [d for d in datasets if d.get("context", "training") != "training"],
        "metrics": orjson.loads(row.metrics or "{}"), "params": orjson.loads(row.params or "{}"),
        "fairness": _fairness(conn, model, number),
        "approvals": [{"request_id": r.id, "requested_by": r.requested_by, "reason": r.reason, "status": r.status,
                       "required": r.required, "ticket_number": r.ticket_number,
                       "decisions": [{"approver": d.approver, "decision": d.decision, "comment": d.comment,
                                      "at_ms": d.created_ms, "ticket": d.ticket} for d in r.decisions]}
                      for r in requests],
        "lineage": lineage,
        "sections": {name: sections.get(name, {"text": "", "revision": 0}) for name in SECTIONS},
        "revision": sum(s["revision"] for s in sections.values()),
    } | {"known_issues": known_issues(_fairness(conn, model, number), recorded, sections)} | (
        {} if hide is None else {"lineage_hidden": sorted({p for p in hidden.values() if p})})


def known_issues(fairness: dict[str, Any] | None, datasets: list[dict[str, Any]],
                 sections: dict[str, dict[str, Any]]) -> list[str]:
    """Limitations the platform can see for itself, listed beside the human-written ones."""
    issues = []
    if fairness is None:
        issues.append("No fairness evaluation has been recorded for this version.")
    else:
        for attribute, summary in fairness["summary"].items():
            if not summary["four_fifths_passed"]:
                issues.append(f"Disparate impact by {attribute} is {summary['disparate_impact_ratio']}, below the "
                              "four-fifths rule (0.8).")
            if summary["small_groups"]:
                issues.append(f"Groups too small to judge for {attribute}: {', '.join(summary['small_groups'])}.")
    if not datasets:
        issues.append("No training dataset version was recorded: the model cannot be traced to its data.")
    missing = [name for name in ("intended_use", "limitations") if not sections.get(name, {}).get("text", "").strip()]
    if missing:
        issues.append(f"Sections not written yet: {', '.join(missing)}.")
    return issues
