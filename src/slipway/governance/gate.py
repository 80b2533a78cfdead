"""The policy gate every checked transition passes through.

The policy is evaluated inside the transition's own write transaction, so the evidence cannot
change between the check and the state change. A failure is recorded (signed check result, audit
event, ``policy.failed`` webhook) in a transaction of its own after the transition's is abandoned,
then raised as Conflict naming each failed requirement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from slipway.core.errors import Conflict
from slipway.core.events import Action, Subject, WebhookEvent
from slipway.governance.checks import evaluate, failure_message, store_check
from slipway.governance.records import CheckResult
from slipway.governance.refs import version_row
from slipway.store.context import ServiceContext
from slipway.webhooks.outbox import emit

T = TypeVar("T")


def record_check(ctx: ServiceContext, conn: Connection, row: Any, target: str, pending_approvals: int = 0,
                 skip_approvals: bool = False) -> CheckResult:
    """Evaluate, sign and store; audit and announce a failure. Returns the stored result."""
    info, outcomes = evaluate(conn, row, target, pending_approvals)
    if skip_approvals:
        outcomes = [o for o in outcomes if not o.requirement.startswith("approvals")]
    result = store_check(conn, ctx.settings, ctx.principal.name, row.model_name, row.version, target, info, outcomes)
    subject = f"{row.model_name}/{row.version}"
    details = {"check_id": result.id, "target_state": target, "passed": result.passed,
               "failed": [o.requirement for o in result.failures]}
    ctx.audit(conn, Action.POLICY_CHECK, Subject.MODEL_VERSION, subject, details)
    if not result.passed:
        emit(conn, WebhookEvent.POLICY_FAILED, {"model": row.model_name, "version": row.version, "target_state": target,
                                     "check_id": result.id,
                                     "failures": [{"requirement": o.requirement, "detail": o.detail} for o in result.failures]})
    return result


def passing_check(ctx: ServiceContext, conn: Connection, row: Any, target: str, pending_approvals: int = 0,
                  skip_approvals: bool = False) -> CheckResult | None:
    """Evaluate the policy inside the caller's write transaction; store and audit the result and
    return it when it passes, or return None (storing nothing) when it does not: the caller then
    abandons its transaction and records the failure with :func:`record_check` in a new one."""
    info, outcomes = evaluate(conn, row, target, pending_approvals)
    if skip_approvals:
        outcomes = [o for o in outcomes if not o.requirement.startswith("approvals")]
    if not all(o.passed for o in outcomes):
        return None
    result = store_check(conn, ctx.settings, ctx.principal.name, row.model_name, row.version, target, info, outcomes)
    ctx.audit(conn, Action.POLICY_CHECK, Subject.MODEL_VERSION, f"{row.model_name}/{row.version}",
              {"check_id": result.id, "target_state": target, "passed": True, "failed": []})
    return result


def gated_write(ctx: ServiceContext, model: str, number: int, target: str,
                change: Callable[[Connection, Any, CheckResult], T], pending_approvals: int = 0,
                skip_approvals: bool = False,
                on_block: Callable[[Connection, Any, CheckResult], T] | None = None) -> T:
    """Run ``change`` in a write transaction if the version passes its policy for ``target``.

    On failure, records the failed check and raises Conflict, or returns ``on_block(result)`` when
    given, in the failure's transaction (a decision that is kept even though the policy still blocks the version).
    """
    with ctx.db.write() as conn:
        row = version_row(conn, model, number)
        result = passing_check(ctx, conn, row, target, pending_approvals, skip_approvals)
        if result is not None:
            return change(conn, row, result)
    with ctx.db.write() as conn:
        row = version_row(conn, model, number)
        failed = record_check(ctx, conn, row, target, pending_approvals, skip_approvals)
        if failed.passed:  # the evidence changed in between; let the caller retry
            raise Conflict(f"{model}/{number} changed while it was being checked; retry")
        if on_block is not None:
            return on_block(conn, row, failed)
    raise Conflict(failure_message(failed))
