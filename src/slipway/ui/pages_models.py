"""Models: the registry's models and versions, aliases and their history, governance state, the
model card, fairness reports (the newest one per group), the evaluation (metrics, evaluation data,
each requirement of the last policy check), and approvals with approve/reject for approvers.

The approve and reject buttons are shown only to a user the API would let decide (the
``governance.approve`` permission, not the requester, not someone who already decided); the
decision itself is :meth:`GovernanceBackend.decide`, so the four-eyes rule is the API's.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import quote

import orjson
from fastapi.responses import RedirectResponse, Response
from markdown_it import MarkdownIt
from markupsafe import Markup

from slipway.governance.records import ApprovalRequest
from slipway.ui.view import View, action, page


@functools.cache
def _markdown() -> MarkdownIt:
    # Raw HTML off: a card's text is shown as text, and markdown-it refuses javascript: links.
    return MarkdownIt("commonmark", {"html": False, "linkify": False})


def markdown(text: str) -> Markup:
    return Markup(_markdown().render(text or ""))


def may_decide(view: View, request: ApprovalRequest) -> bool:
    """Whether the decide buttons would work for this user (the API checks it again)."""
    me = view.principal.name
    return (request.status == "open" and request.requested_by != me and all(d.approver != me for d in request.decisions)
            and view.can("governance.approve", model=request.model))


@page
def models_page(view: View) -> Response:
    return view.render("models.html", models=view.backend("registry").list_models(max_results=1000))


@page
def model_page(view: View, name: str) -> Response:
    registry = view.backend("registry")
    governance = view.backend("governance")
    return view.render("model.html", model=registry.get_model(name), versions=registry.list_versions(name),
                       requests=governance.list_requests(model=name, limit=100),
                       history=governance.alias_history(name), may_decide=may_decide)


@page
def version_page(view: View, name: str, version: str) -> Response:
    ref = f"{name}/{int(version)}"
    registry = view.backend("registry")
    governance = view.backend("governance")
    model_version = registry.get_version(name, int(version))
    card: dict[str, Any] = orjson.loads(governance.card(ref, "json"))
    requests = [r for r in governance.list_requests(model=name, limit=100) if r.version == model_version.version]
    fairness = governance.fairness_reports(ref)
    newest = governance.fairness_report(ref, fairness[0].report_version) if fairness else None
    return view.render("version.html", mv=model_version, status=governance.status(ref), card=card,
                       requests=requests, fairness=fairness, fairness_detail=newest, markdown=markdown,
                       may_decide=may_decide)


def _version_url(model: str, version: int) -> str:
    return f"/models/{quote(model, safe='')}/{version}"


@action
def decide(view: View, form: dict[str, str], request_id: str) -> Response:
    decided = view.backend("governance").decide(request_id, form.get("decision", ""), form.get("comment", ""))
    return RedirectResponse(_version_url(decided.model, decided.version), status_code=303)


@action
def request_approval(view: View, form: dict[str, str], name: str, version: str) -> Response:
    view.backend("governance").request_approval(f"{name}/{int(version)}", form.get("reason", ""))
    return RedirectResponse(_version_url(name, int(version)), status_code=303)


@action
def promote(view: View, form: dict[str, str], name: str, version: str) -> Response:
    view.backend("governance").promote(f"{name}/{int(version)}", form.get("alias", "").strip())
    return RedirectResponse(_version_url(name, int(version)), status_code=303)


ROUTES = [
    ("/models", "GET", models_page),
    ("/models/{name}", "GET", model_page),
    ("/models/{name}/{version:int}", "GET", version_page),
    ("/models/{name}/{version:int}/request-approval", "POST", request_approval),
    ("/models/{name}/{version:int}/promote", "POST", promote),
    ("/approvals/{request_id}/decide", "POST", decide),
]
