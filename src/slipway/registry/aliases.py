"""Alias moves, inside the caller's transaction.

Only the registry writes ``model_aliases``: its own ``set_alias``/``delete_alias`` endpoints,
governance's ``promote`` and a deployment's promotion all call these functions within their own
write transaction, so an alias move, the typed alias history, its audit event and its webhook
are committed together with whatever else the caller changes (a version's state, a deployment's
weights), or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput, NotFound
from slipway.core.events import Action, Subject, WebhookEvent
from slipway.core.limits import whole_number
from slipway.core.names import check_name
from slipway.identity.proof import prove_decision
from slipway.store.context import ServiceContext
from slipway.store.schema.registry import model_alias_history, model_aliases
from slipway.webhooks.outbox import emit

DEFAULT_PROTECTED_ALIASES = ("champion", "production")
# Governance states a protected alias may point at.
SERVABLE_STATES = ("approved", "deployed")


def protected_aliases(ctx: ServiceContext) -> tuple[str, ...]:
    """The aliases that need ``alias.protected`` and an approved or deployed version."""
    configured: tuple[str, ...] | None = ctx.settings.domain("governance").protected_aliases
    return DEFAULT_PROTECTED_ALIASES if configured is None else configured


def check_alias_name(alias: str) -> str:
    """Raise InvalidInput for names that would read as a version reference."""
    check_name(alias, "alias")
    if alias == "latest" or whole_number(alias) is not None:
        raise InvalidInput(f"alias {alias!r} would be ambiguous with a version reference; choose another name")
    return alias


def require_alias_rights(ctx: ServiceContext, alias: str, verb: str = "move") -> bool:
    """Check the caller may move ``alias``; returns whether it is protected."""
    protected = alias in protected_aliases(ctx)
    if protected:
        ctx.principal.require("alias.protected", f"{verb} the protected alias {alias!r}")
    return protected


def current_holder(conn: Connection, model_id: str, alias: str) -> int | None:
    return conn.execute(select(model_aliases.c.version).where(
        model_aliases.c.model_id == model_id, model_aliases.c.alias == alias)).scalar()


def aliases_of_version(conn: Connection, model_id: str, version: int) -> list[str]:
    """The aliases that point at ``version`` of the model, sorted."""
    return sorted(a.alias for a in conn.execute(select(model_aliases.c.alias).where(
        model_aliases.c.model_id == model_id, model_aliases.c.version == version)))


def move_alias(ctx: ServiceContext, conn: Connection, version_row: Any, alias: str,
               check_id: str | None = None) -> int | None:
    """Point ``alias`` at the version in ``version_row`` (needs ``model_id``, ``model_name``,
    ``version``, ``state``); returns the version it pointed at before (None if unset).

    Raises:
        Conflict: the alias is protected and the version is not approved or deployed.
    """
    model, number = str(version_row.model_name), int(version_row.version)
    if alias in protected_aliases(ctx) and version_row.state not in SERVABLE_STATES:
        raise Conflict(f"alias {alias!r} is protected: it may only point at an approved or deployed version, and "
                       f"{model}/{number} is {version_row.state!r}; get it approved first")
    previous = current_holder(conn, version_row.model_id, alias)
    if previous == number:
        return previous
    now = now_ms()
    values = {"version": number, "set_by": ctx.principal.name, "updated_ms": now}
    if previous is None:
        conn.execute(model_aliases.insert().values(model_id=version_row.model_id, alias=alias, **values))
    else:
        conn.execute(model_aliases.update().where(model_aliases.c.model_id == version_row.model_id,
                                                  model_aliases.c.alias == alias).values(**values))
    conn.execute(model_alias_history.insert().values(model_name=model, alias=alias, version=number,
                                                     set_by=ctx.principal.name, ts_ms=now))
    details: dict[str, Any] = {"model": model, "alias": alias, "version": number, "previous": previous,
                               "check_id": check_id}
    if alias in protected_aliases(ctx):  # who moved what serves traffic, proved (checked again by audit verify)
        details["protected"] = True
        details["proof"] = prove_decision(ctx, conn, Action.ALIAS_SET, model,
                                          {"alias": alias, "version": number, "previous": previous})
    ctx.audit(conn, Action.ALIAS_SET, Subject.REGISTERED_MODEL, model, details)
    emit(conn, WebhookEvent.ALIAS_MOVED, {k: v for k, v in details.items() if k != "proof"})
    return previous


def remove_alias(ctx: ServiceContext, conn: Connection, model_id: str, model: str, alias: str) -> int:
    """Remove ``alias``; returns the version it pointed at.

    Raises:
        NotFound: the alias is not set.
    """
    previous = current_holder(conn, model_id, alias)
    if previous is None:
        raise NotFound(f"model {model!r} has no alias {alias!r}")
    conn.execute(model_aliases.delete().where(model_aliases.c.model_id == model_id, model_aliases.c.alias == alias))
    conn.execute(model_alias_history.insert().values(model_name=model, alias=alias, version=None,
                                                     set_by=ctx.principal.name, ts_ms=now_ms()))
    details: dict[str, Any] = {"model": model, "alias": alias, "previous": previous}
    if alias in protected_aliases(ctx):
        details["protected"] = True
        details["proof"] = prove_decision(ctx, conn, Action.ALIAS_DELETE, model, {"alias": alias, "previous": previous})
    ctx.audit(conn, Action.ALIAS_DELETE, Subject.REGISTERED_MODEL, model, details)
    return previous
