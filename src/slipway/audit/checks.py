"""The checks ``audit verify`` runs after the ledger's own: the extension point.

A check is ``fn(context) -> list[Problem]``; it reads what it needs through ``context.conn``
(a read transaction) and names every row or event it finds wrong. Add one by appending
``"module:function"`` to :data:`CHECK_PATHS` (imported only when verification runs), or call
:func:`register_check` at import time of a module that is loaded anyway.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable

from sqlalchemy import Connection

from slipway.audit.records import Problem
from slipway.blobs.store import BlobStore
from slipway.core.settings import Settings


@dataclasses.dataclass(frozen=True)
class CheckContext:
    conn: Connection
    settings: Settings
    blobs: BlobStore | None = None


Check = Callable[[CheckContext], list[Problem]]

# Checks of the rows that govern behaviour against the events that should explain them.
CHECK_PATHS: list[str] = [
    "slipway.registry.ledger_checks:check_model_versions",
    "slipway.registry.ledger_checks:check_aliases",
    "slipway.registry.ledger_checks:check_models",
    "slipway.audit.replay:check_users",
    "slipway.governance.ledger_checks:check_credentials",
    "slipway.governance.ledger_checks:check_policies",
    "slipway.governance.ledger_checks:check_decisions",
]
_REGISTERED: dict[str, Check] = {}


def register_check(name: str, check: Check) -> None:
    """Run ``check`` on every ``audit verify`` (e.g. identity's approval signatures)."""
    _REGISTERED[name] = check


def all_checks() -> dict[str, Check]:
    found: dict[str, Check] = {}
    for path in CHECK_PATHS:
        module, _, name = path.partition(":")
        found[name] = getattr(importlib.import_module(module), name)
    return {**found, **_REGISTERED}


def run_checks(context: CheckContext) -> list[Problem]:
    problems: list[Problem] = []
    for check in all_checks().values():
        problems.extend(check(context))
    return problems
