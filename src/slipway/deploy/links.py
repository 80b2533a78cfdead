"""How deployments reach the registry and governance: resolve references, check the policy
gate for production traffic, and, in a promotion's one transaction, mark the version deployed
and move the alias."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from slipway.core.errors import Conflict
from slipway.core.events import Action, Subject
from slipway.governance.checks import failure_message
from slipway.governance.gate import passing_check, record_check
from slipway.governance.lifecycle import require_allowed, set_state
from slipway.governance.refs import resolve_version, version_row
from slipway.registry.aliases import move_alias, require_alias_rights
from slipway.store.context import ServiceContext

PRODUCTION_STATES = ("approved", "deployed")


def resolve_variant(conn: Connection, ref: str) -> tuple[str, int, str]:
    """(model, version, governance state) of a reference, resolved now (aliases are pinned)."""
    model, number = resolve_version(conn, ref)
    row: Any = version_row(conn, model, number)
    return model, number, str(row.state)


def require_production_ready(variant: str, role: str, model: str, version: int, state: str) -> None:
    """Only approved or deployed versions may take stable or canary traffic; shadows may be anything.

    Raises:
        Conflict: naming the variant, the version and its state.
    """
    if role != "shadow" and state not in PRODUCTION_STATES:
        raise Conflict(
            f"variant {variant!r} ({role}) points at {model}/{version}, which is {state!r}; only approved or "
            "deployed versions may receive production traffic (use role: shadow to try it on mirrored traffic)")


class PromotionBlocked(Conflict):
    """The promoted version's policy does not allow ``deployed`` now; nothing was changed."""

    def __init__(self, message: str, model: str, version: int) -> None:
        super().__init__(message)
        self.model, self.version = model, version


def require_promotion_rights(ctx: ServiceContext, alias: str | None) -> None:
    """Check, before any change, that the caller may move the deployment's alias."""
    if alias:
        require_alias_rights(ctx, alias)


def promote_version(ctx: ServiceContext, conn: Connection, model: str, version: int, alias: str | None,
                    reason: str) -> dict[str, Any]:
    """Inside the promotion's transaction: mark the version ``deployed`` through its policy gate and
    point ``alias`` at it through the registry. Returns what happened, for the history entry.

    Raises:
        PromotionBlocked: the policy refuses ``deployed``; the caller's transaction must be abandoned
            (and the failed check recorded with :func:`record_blocked_check`).
        Conflict: the version's state does not allow deployment.
    """
    row: Any = version_row(conn, model, version)
    outcome: dict[str, Any] = {}
    if row.state == "deployed":
        outcome["governance"] = "already deployed"
    else:
        require_allowed(model, version, row.state, "deployed")
        check = passing_check(ctx, conn, row, "deployed")
        if check is None:
            raise PromotionBlocked(f"{model}/{version} may not be deployed under its policy now", model, version)
        set_state(conn, row.id, row.state, "deployed")
        ctx.audit(conn, Action.VERSION_TRANSITION, Subject.MODEL_VERSION, f"{model}/{version}",
                  {"from": row.state, "to": "deployed", "reason": reason, "check_id": check.id})
        outcome["governance"] = "deployed"
        row = version_row(conn, model, version)
    if alias:
        move_alias(ctx, conn, row, alias)
        outcome["alias"] = f"{alias} -> {model}/{version}"
    return outcome


def record_blocked_check(ctx: ServiceContext, blocked: PromotionBlocked) -> str:
    """Record the failed policy check of a refused promotion in its own transaction; returns why."""
    with ctx.db.write() as conn:
        failed = record_check(ctx, conn, version_row(conn, blocked.model, blocked.version), "deployed")
    return blocked.message if failed.passed else failure_message(failed)
