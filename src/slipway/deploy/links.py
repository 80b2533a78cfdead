"""How deployments reach the registry and governance: resolve references, check the policy
gate for production traffic, move aliases and mark versions deployed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from slipway.core.errors import Conflict, PermissionDenied
from slipway.governance.refs import resolve_version, version_row
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


def mark_deployed(ctx: ServiceContext, model: str, version: int, reason: str) -> str:
    """Move the version to ``deployed`` through governance (its policy gate); returns what happened."""
    from slipway.governance.backend_lifecycle import LifecycleEndpoints

    with ctx.db.read() as conn:
        state = version_row(conn, model, version).state  # type: ignore[attr-defined]
    if state == "deployed":
        return "already deployed"
    lifecycle = LifecycleEndpoints()
    lifecycle.ctx = ctx
    lifecycle.transition(f"{model}/{version}", "deployed", reason)
    return "deployed"


def move_alias(ctx: ServiceContext, model: str, alias: str, version: int) -> str:
    """Point ``alias`` at the promoted version through the registry (protected-alias rules apply)."""
    from slipway.registry.backend import RegistryBackend

    try:
        RegistryBackend(ctx).set_alias(model, alias, version)
    except (Conflict, PermissionDenied) as err:  # e.g. the server's user holds no signing key (embedded)
        return f"alias not moved: {err.message}"
    return f"{alias} -> {model}/{version}"
