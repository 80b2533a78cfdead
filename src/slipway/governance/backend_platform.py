"""Governance's record of GitOps: which commit of a platform folder was applied, with what changes.

``slipway apply`` (:mod:`slipway.gitops`) applies each object through its own endpoint; this
endpoint appends the one ``platform.apply`` event that ties them to the folder's Git commit.
"""

from __future__ import annotations

from typing import Any

from slipway.core.auth import endpoint
from slipway.core.errors import InvalidInput
from slipway.core.events import Action, Subject
from slipway.store.context import ServiceContext

ACTIONS = ("add", "change", "delete")


class PlatformEndpoints:
    ctx: ServiceContext

    @endpoint("deploy", "pipelines.run", "monitoring.write", "features.write", "admin")
    def record_platform_apply(self, folder: str, commit: str | None, dirty: bool,
                              changes: list[dict[str, str]]) -> dict[str, Any]:
        """Record that ``folder`` at Git ``commit`` (``dirty``: with uncommitted changes) was applied,
        making ``changes`` (``[{kind, name, action}]``). Returns the event's sequence number."""
        if not isinstance(folder, str) or not folder or len(folder) > 1000:
            raise InvalidInput(f"folder must be a path, got {folder!r}")
        if commit is not None and (not isinstance(commit, str) or not 4 <= len(commit) <= 64
                                   or any(c not in "0123456789abcdef" for c in commit)):
            raise InvalidInput(f"commit must be a hexadecimal Git object id, got {commit!r}")
        if not isinstance(changes, list) or not all(
                isinstance(c, dict) and set(c) == {"kind", "name", "action"} and c["action"] in ACTIONS
                and all(isinstance(v, str) for v in c.values()) for c in changes):
            raise InvalidInput("changes must be a list of {kind, name, action} with action add, change or delete")
        with self.ctx.db.write() as conn:
            event = self.ctx.audit(conn, Action.PLATFORM_APPLY, Subject.PLATFORM, folder,
                                   {"commit": commit, "dirty": bool(dirty), "changes": changes})
        return {"seq": event.seq, "commit": commit, "changes": len(changes)}
