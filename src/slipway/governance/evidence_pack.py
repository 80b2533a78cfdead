"""The evidence pack of one model version: what a regulator or internal audit asks for, in one folder.

``build_pack`` returns the pack's files (relative path -> text): the model card, intended use and
limitations, lineage down to raw dataset versions and feature views, evaluation (metrics, policy
checks) and fairness reports, approvals with their tickets, alias and deployment history ("what
was in production, when"), monitoring events, and the audit events concerning the model, each
with an inclusion proof in a signed checkpoint. ``verify_pack.py`` (a copy of
:mod:`slipway.core.evidence_check`, with :mod:`slipway.core.merkle` and
:mod:`slipway.core.transparency`) checks it offline. docs/governance.md maps the sections to the
EU AI Act (Articles 11, 12, 19) and SR 11-7.

Exported by a caller bound to projects, the pack walks the lineage as the lineage route does for
it (``hide``): nodes of projects it may not read are left out with their edges, and with them the
deployments and monitors they would bring in; ``lineage_hidden`` in the manifest, ``lineage.json``
and the model card names those projects, and the README says the pack is partial.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.resources
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Connection, or_, select

from slipway.audit import destinations
from slipway.audit.checkpoints import make_checkpoint
from slipway.audit.keys import destinations as configured_destinations
from slipway.audit.keys import load_signing_key, load_verify_key
from slipway.audit.proofs import checked_leaves, inclusion_paths, proof_document
from slipway.audit.settings import audit_settings
from slipway.core.clock import iso, now_ms
from slipway.core.errors import InvalidInput
from slipway.core.evidence_check import CHECKPOINT, EVENTS, MANIFEST, PACK_KEY
from slipway.governance.approvals import list_requests
from slipway.governance.card_render import render
from slipway.governance.cards import build_card
from slipway.lineage.graph import Hide, walk
from slipway.registry.alias_history import alias_moves
from slipway.store.context import ServiceContext
from slipway.store.schema.core import audit_events
from slipway.store.schema.governance import fairness_reports, policy_checks

FORMAT = "slipway-evidence-pack/1"
# Monitoring sits above governance: its part of the pack is named by path and imported when asked.
MONITORING_EVIDENCE = "slipway.monitoring.evidence:monitoring_evidence"
CARD_SECTIONS_OF_USE = ("intended_use", "out_of_scope_use", "limitations", "ethical_considerations",
                        "caveats_and_recommendations")


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


def _graph(graph: Any) -> dict[str, Any]:
    return {"nodes": [{"kind": n.kind, "id": n.id, "depth": n.depth} for n in graph.nodes],
            "edges": [{"src": f"{e.src_kind}:{e.src_id}", "relation": e.relation, "dst": f"{e.dst_kind}:{e.dst_id}",
                       "at": iso(e.created_ms)} for e in graph.edges], "truncated": graph.truncated}


def _checkpoint(ctx: ServiceContext, newest_seq: int) -> dict[str, Any]:
    """A signed checkpoint covering ``newest_seq``: the newest published one, else a fresh one."""
    for location in configured_destinations(ctx.settings):
        for published in reversed(destinations.read_checkpoints(location)):
            if int(published.get("tree_size", 0)) >= newest_seq:
                return {k: v for k, v in published.items() if k != "frontier"}
    if not audit_settings(ctx.settings).signing_key:
        raise InvalidInput("an evidence pack needs a signed checkpoint of the audit ledger: set [audit] signing_key "
                           "(made with 'slipway audit keygen') or publish one with 'slipway audit checkpoint'")
    checkpoint = make_checkpoint(ctx.db, ctx.settings, load_signing_key(ctx.settings))[0]
    return {k: v for k, v in checkpoint.items() if k != "frontier"}


def _public_key_pem(ctx: ServiceContext) -> str | None:
    key = load_verify_key(ctx.settings)
    if key is None:
        return None
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _monitoring(conn: Connection, deployments: list[str]) -> list[dict[str, Any]]:
    module, _, name = MONITORING_EVIDENCE.partition(":")
    found: list[dict[str, Any]] = getattr(importlib.import_module(module), name)(conn, deployments)
    return found


def _events(conn: Connection, model: str, request_ids: list[str], deployments: list[str],
            monitor_names: list[str]) -> list[Any]:
    """The ledger's events about the model: the model, its versions (alias moves included), its
    approval requests, the deployments serving it, and the monitors watching those."""
    c = audit_events.c
    wanted = or_(c.subject_id == model, c.subject_id.like(model.replace("%", r"\%").replace("_", r"\_") + "/%",
                                                          escape="\\"),
                 c.subject_id.in_(request_ids or [""]),
                 (c.subject_kind == "deployment") & c.subject_id.in_(deployments or [""]))
    rows = list(conn.execute(select(audit_events).where(wanted).order_by(c.seq)))
    if monitor_names:
        rows += list(conn.execute(select(audit_events).where(c.subject_kind == "monitor",
                                                             c.subject_id.in_(monitor_names))))
    return sorted({r.seq: r for r in rows}.values(), key=lambda r: r.seq)


def _production_timeline(moves: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest first: for each alias, which version held it from when until when."""
    spans: list[dict[str, Any]] = []
    open_spans: dict[str, dict[str, Any]] = {}
    for move in sorted(moves, key=lambda m: m["at_ms"]):
        current = open_spans.pop(move["alias"], None)
        if current is not None:
            current["until"] = iso(move["at_ms"])
        if move["version"] is not None:
            span = {"alias": move["alias"], "version": move["version"], "set_by": move["set_by"],
                    "from": iso(move["at_ms"]), "until": None}
            open_spans[move["alias"]] = span
            spans.append(span)
    return spans


def _verifier_files() -> dict[str, str]:
    core = importlib.resources.files("slipway.core")
    check = core.joinpath("evidence_check.py").read_text()
    transparency = core.joinpath("transparency.py").read_text()
    local = "sys.path.insert(0, str(Path(__file__).resolve().parent))  # the pack's copies\nfrom transparency import"
    return {"verify_pack.py": check.replace("from slipway.core.transparency import", local),
            "transparency.py": transparency.replace("from slipway.core.merkle import", "from merkle import"),
            "merkle.py": core.joinpath("merkle.py").read_text()}


def _hidden_projects(card: dict[str, Any], *graphs: Any) -> list[str]:
    return sorted(set(card["lineage_hidden"]).union(*(g.hidden for g in graphs)))


def build_pack(ctx: ServiceContext, conn: Connection, row: Any, prove: bool = True,
               hide: Hide | None = None) -> dict[str, str]:
    """The files of the evidence pack of the version ``row`` (a joined version row).

    ``prove=False`` leaves out the audit events and their proofs (a ticket's attachment when the
    ledger has no signing key); ``hide`` leaves out what a project-bound caller may not read (see
    the module docstring). Raises InvalidInput when proving needs a checkpoint and none can be had.
    """
    model, number = row.model_name, int(row.version)
    subject = f"{model}/{number}"
    card = build_card(conn, row, hide)
    upstream = walk(conn, "model_version", subject, "up", hide=hide)
    downstream = walk(conn, "model_version", subject, "down", hide=hide)
    scoped = {} if hide is None else {"lineage_hidden": _hidden_projects(card, upstream, downstream)}
    deployments = downstream.ids("deployment")
    requests = [r for r in list_requests(conn, model, None, 10_000) if r.version == number]
    reports = conn.execute(select(fairness_reports).where(fairness_reports.c.model == model,
                                                          fairness_reports.c.version == number)
                           .order_by(fairness_reports.c.report_version)).all()
    checks = conn.execute(select(policy_checks).where(policy_checks.c.model == model, policy_checks.c.version == number)
                          .order_by(policy_checks.c.created_ms)).all()
    moves = alias_moves(conn, model, 100_000)
    monitoring = _monitoring(conn, deployments)
    events = _events(conn, model, [r.id for r in requests], deployments, [m["monitor"] for m in monitoring])
    if not events:
        raise InvalidInput(f"the audit ledger has no event about {subject}")
    proof_files: dict[str, str] = {}
    proven: list[Any] = []
    checkpoint: dict[str, Any] = {"tree_size": 0, "root_hash": "(not proven)"}
    if prove:
        checkpoint = _checkpoint(ctx, events[-1].seq)
        leaves = checked_leaves(conn, checkpoint)
        proven = [e for e in events if e.seq <= int(checkpoint["tree_size"])]
        paths = inclusion_paths(leaves, [e.seq - 1 for e in proven])
        proof_files = {CHECKPOINT: _json(checkpoint), **_verifier_files(),
                       EVENTS: "".join(orjson.dumps(proof_document(e, leaves, checkpoint, paths[e.seq - 1])).decode()
                                       + "\n" for e in proven)}

    files: dict[str, str] = {
        "model-card.md": render(card, "md"), "model-card.json": render(card, "json"),
        "intended-use.md": "".join(f"## {name.replace('_', ' ').capitalize()}\n\n"
                                   f"{card['sections'][name]['text'] or '_Not written._'}\n\n"
                                   for name in CARD_SECTIONS_OF_USE)
        + "## Known issues (generated)\n\n" + "".join(f"- {i}\n" for i in card["known_issues"]),
        "lineage.json": _json({"upstream": _graph(upstream), "downstream": _graph(downstream),
                               "dataset_versions": upstream.ids("dataset_version"),
                               "feature_views": upstream.ids("feature_view"), "runs": upstream.ids("run"), **scoped}),
        "evaluation.json": _json({"metrics": card["metrics"], "params": card["params"],
                                  "training_data": card["training_data"], "evaluation_data": card["evaluation_data"],
                                  "policy_checks": [{"id": c.id, "target_state": c.target_state, "passed": c.passed,
                                                     "policy_digest": c.policy_digest, "by": c.checked_by,
                                                     "at": iso(c.created_ms), "outcomes": orjson.loads(c.results)}
                                                    for c in checks]}),
        "approvals.json": _json([{"request_id": r.id, "requested_by": r.requested_by, "reason": r.reason,
                                  "status": r.status, "required": r.required, "ticket_number": r.ticket_number,
                                  "ticket_sys_id": r.external_ref, "requested_at": iso(r.created_ms),
                                  "decided_at": iso(r.decided_ms) if r.decided_ms else None,
                                  "decisions": [{"approver": d.approver, "decision": d.decision, "comment": d.comment,
                                                 "ticket": d.ticket, "at": iso(d.created_ms)} for d in r.decisions]}
                                 for r in requests]),
        "deployments.json": _json({"alias_moves": [{**m, "at": iso(m["at_ms"])} for m in reversed(moves)],
                                   "production_timeline": _production_timeline(moves), "deployments": deployments,
                                   "events": [_event(e) for e in events if e.subject_kind == "deployment"]}),
        "monitoring.json": _json({"monitors": monitoring,
                                  "events": [_event(e) for e in events if e.subject_kind == "monitor"]}),
        **proof_files,
    }
    for report in reports:
        files[f"fairness/report-{report.report_version}.json"] = ctx.blobs.read_bytes(report.digest).decode()
    pem = _public_key_pem(ctx) if prove else None
    if pem:
        files[PACK_KEY] = pem
    files["README.md"] = _readme(subject, checkpoint if prove else None, len(proven), requests,
                                 scoped.get("lineage_hidden"))
    files[MANIFEST] = _json({
        "format": FORMAT, "model": model, "version": number, "exported_by": ctx.principal.name,
        "exported_at": iso(now_ms()), "bundle_digest": row.bundle_digest, **scoped,
        "files": {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(files.items())}})
    return files


def _event(e: Any) -> dict[str, Any]:
    return {"seq": e.seq, "at": iso(e.ts), "actor": e.actor, "action": e.action, "subject": f"{e.subject_kind}:{e.subject_id}",
            "details": orjson.loads(e.details)}


def _readme(subject: str, checkpoint: dict[str, Any] | None, events: int, requests: list[Any],
            hidden: list[str] | None = None) -> str:
    tickets = ", ".join(r.ticket_number for r in requests if r.ticket_number) or "none"
    text = _README.format(subject=subject, format=FORMAT, tickets=tickets, events=events,
                          size=checkpoint["tree_size"] if checkpoint else 0,
                          root=checkpoint["root_hash"][:16] if checkpoint else "")
    if hidden is not None:  # exported by a caller bound to projects
        text = text.replace("\n\n|", "\n\n" + _partial(hidden) + "\n\n|", 1)
    if checkpoint is None:  # the reviewers' copy: no audit proofs
        keep = [line for line in text.splitlines() if "audit/" not in line]
        text = "\n".join(keep).split("## Verify offline")[0] + (
            "This copy carries no audit proofs; `slipway governance export` writes the pack with them.\n")
    return text


_README = """# Evidence pack: {subject}

Exported by Slipway ({format}). Change tickets: {tickets}.

| file | what it holds | EU AI Act | SR 11-7 |
|---|---|---|---|
| model-card.md, model-card.json | the model card: purpose, owner, risk tier, data, metrics, fairness, approvals | Art. 11 + Annex IV (1), (2) | model documentation |
| intended-use.md | intended use, out-of-scope use, limitations, known issues | Art. 11 + Annex IV (1), (3); Art. 13 | conceptual soundness, limitations |
| lineage.json | training data lineage down to raw dataset versions and feature views | Art. 11 + Annex IV (2)(d); Art. 10 | data quality and relevance |
| evaluation.json | metrics, evaluation data, every policy check with its outcome | Art. 11 + Annex IV (2)(g), (4) | outcomes analysis, validation |
| fairness/*.json | fairness reports (per-group rates, disparate impact, equalized odds) | Art. 10 (2)(f), Annex IV (2)(g) | outcomes analysis |
| approvals.json | approval requests, approvers of record, change tickets | Art. 17 (quality management) | independent review, effective challenge |
| deployments.json | alias moves and what was in production when; deployments | Art. 12 (logging), Art. 19 | ongoing monitoring, inventory |
| monitoring.json | monitor runs and alerts on the deployments | Art. 72 (post-market monitoring) | ongoing monitoring |
| audit/events.jsonl | {events} audit events about the model, each with an inclusion proof | Art. 12, Art. 19 (logs kept) | governance, audit trail |
| audit/checkpoint.json | the signed checkpoint (size {size}, root {root}…) | Art. 12 | |

## Verify offline

    python verify_pack.py --public-key LEDGER-PUBLIC-KEY.pem

(needs Python 3.10+ and `cryptography`; or `slipway audit verify-pack THIS-FOLDER`). Without
`--public-key` it uses `audit/public-key.pem`, which only proves the pack is self-consistent:
obtain the ledger's key from its owner out of band.
"""


def _partial(hidden: list[str]) -> str:
    if not hidden:
        return "Exported by a user bound to projects; its lineage reached no project that user may not read."
    return (f"**Partial lineage.** Exported by a user bound to projects: what is in project(s) {', '.join(hidden)}, "
            "which that user may not read, is left out (nodes, their edges and what lies beyond them; "
            "`lineage_hidden` in manifest.json). Export as a global auditor for the whole lineage.")


def pack_zip(files: dict[str, str], folder: str = "") -> bytes:
    """The pack as a zip (entries under ``folder``/, fixed timestamps: the same files give the same bytes)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{folder}/{name}" if folder else name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()
