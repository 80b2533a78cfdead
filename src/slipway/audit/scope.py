"""Which events of the ledger a caller holding ``audit.read`` only through project bindings (an
auditor bound in one team's project) may see.

An event belongs to the project of its subject (a run through its experiment, a model version
through its model, an approval request through its model, an alert through its monitor, …; see
:mod:`slipway.store.owners`). Events about objects of no project (users, policies, webhooks, the
platform) and events whose subject no longer exists are for global roles only. Such a caller:

- lists only events of projects where it holds ``audit.read``; naming a subject of another
  project is PermissionDenied naming that project;
- gets inclusion proofs of the events it may list (the proof carries hashes of the other leaves,
  never their content);
- may not verify the whole chain or publish checkpoints (global auditors and admins do).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from slipway.core.auth import MISSING_OBJECT, Principal
from slipway.store.database import Database
from slipway.store.ledger import event_by_id
from slipway.store.owners import OWNERS, owners_of, subject_readable
from slipway.store.schema.core import audit_events


def _subject_projects(conn: Any, kind: str, ident: str) -> frozenset[str]:
    """The project of one subject, MISSING_OBJECT if it names nothing that exists, or no project
    (global roles only) for a kind no project owns."""
    if kind not in OWNERS:
        return frozenset()
    owner = owners_of(conn, kind, [ident]).get(ident)
    return frozenset({owner if owner is not None else MISSING_OBJECT})


def audit_projects_of(db: Database, method: str, arguments: dict[str, Any]) -> frozenset[str] | None:
    """The projects a call of :class:`~slipway.audit.backend.AuditBackend` touches (None: ``log``
    without a subject id, which filters itself); see :func:`slipway.core.auth.endpoint`."""
    with db.read() as conn:
        if method == "log":
            kind, ident = arguments.get("subject_kind"), arguments.get("subject_id")
            if isinstance(kind, str) and kind and isinstance(ident, str) and ident:
                return _subject_projects(conn, kind, ident)
            return None
        if method == "prove":
            row = event_by_id(conn, str(arguments.get("event")))
            return frozenset({MISSING_OBJECT}) if row is None else _subject_projects(conn, row.subject_kind, row.subject_id)
        if method == "recorded_bundle":
            model = arguments.get("model")
            owner = owners_of(conn, "registered_model", [model]).get(model) if isinstance(model, str) else None
            return frozenset({owner or MISSING_OBJECT})
    return frozenset()  # verify, checkpoint: the whole ledger


def readable_events(principal: Principal, permission: str = "audit.read") -> ColumnElement[bool] | None:
    """A condition keeping the events ``principal`` may see; None when it holds ``permission`` globally."""
    projects = principal.projects_where(permission)
    if projects is None:
        return None
    return subject_readable(audit_events.c.subject_kind, audit_events.c.subject_id, projects)
