"""The model version state machine.

::

    registered ─▶ validated ─▶ pending_approval ─▶ approved ─▶ deployed ─▶ retired
        │             │              │                 │           │
        └─────────────┴──▶ rejected ◀┘                 └──▶ revoked ◀┘

A rejected version may be put up for approval again (after its card or checks are fixed);
retired and revoked are final. ``approved`` is reached only through approval decisions, never by
a direct transition, so the four-eyes rule cannot be bypassed.
"""

from __future__ import annotations

from sqlalchemy import Connection

from slipway.core.errors import Conflict, InvalidInput
from slipway.registry.rows import set_version_state

STATES = ("registered", "validated", "pending_approval", "approved", "deployed", "retired", "rejected", "revoked")

ALLOWED: dict[str, tuple[str, ...]] = {
    "registered": ("validated", "pending_approval", "rejected", "retired"),
    "validated": ("pending_approval", "rejected", "retired"),
    "pending_approval": ("approved", "rejected"),
    "approved": ("deployed", "retired", "revoked"),
    "deployed": ("approved", "retired", "revoked"),
    "rejected": ("pending_approval", "retired"),
    "retired": (),
    "revoked": (),
}

# The permission a direct transition into each state needs.
PERMISSION_FOR: dict[str, str] = {
    "validated": "governance.validate",
    "pending_approval": "registry.write",
    "approved": "governance.approve",
    "deployed": "deploy",
    "retired": "registry.write",
    "rejected": "governance.approve",
    "revoked": "governance.approve",
}

# Transitions that must pass the version's policy first.
CHECKED_STATES = frozenset({"validated", "approved", "deployed"})


def check_state(value: str) -> str:
    if value not in STATES:
        raise InvalidInput(f"unknown state {value!r}; states are {', '.join(STATES)}")
    return value


def require_allowed(model: str, version: int, current: str, target: str) -> None:
    """Raise Conflict naming from, to and the allowed targets if ``current -> target`` is not allowed."""
    check_state(target)
    allowed = ALLOWED.get(current, ())
    if target not in allowed:
        options = ", ".join(allowed) or "none (final state)"
        raise Conflict(f"{model}/{version} cannot go from {current} to {target}; allowed from {current}: {options}")


def set_state(conn: Connection, version_id: str, current: str, target: str) -> None:
    """Move the row from ``current`` to ``target`` through the registry, which owns version rows;
    Conflict if someone else moved it meanwhile. Check the move with :func:`require_allowed` first."""
    set_version_state(conn, version_id, current, target)
