"""What the executor writes about a step: updates merged between commits, when the first attempt
began, a step's value as recorded, and why a condition held a step back."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from slipway.pipelines.records import StepUpdate

if TYPE_CHECKING:
    from slipway.pipelines.graph import Node
    from slipway.pipelines.runners.base import TaskResult

def condition_holds(value: Any) -> bool:
    """A ``when=`` value: a gate's blessing counts by its ``blessed`` flag, anything else by truth."""
    if hasattr(value, "blessed"):
        return bool(value.blessed)
    if isinstance(value, dict) and "blessed" in value:
        return bool(value["blessed"])
    return bool(value)


def merge_updates(updates: list[StepUpdate]) -> list[StepUpdate]:
    """One update per step: a step that started and finished between two commits is written once."""
    merged: dict[str, StepUpdate] = {}
    for update in updates:
        earlier = merged.get(update.key)
        if earlier is None:
            merged[update.key] = update
            continue
        changes = {f.name: getattr(update, f.name) for f in dataclasses.fields(update)
                   if getattr(update, f.name) is not None}
        if earlier.details and update.details:
            changes["details"] = {**earlier.details, **update.details}
        if earlier.lineage and update.lineage:
            changes["lineage"] = earlier.lineage + update.lineage
        merged[update.key] = dataclasses.replace(earlier, **changes)
    return list(merged.values())


def first_start_ms(attempt: int, result: TaskResult) -> int | None:
    """When the first attempt began executing (in its worker), not when it was queued for one."""
    return result.start_ms or None if attempt == 1 else None


def describe(value: Any) -> Any:
    if hasattr(value, "blessed"):
        return {"blessed": bool(value.blessed)}
    return value if isinstance(value, bool | int | float | str | type(None)) else str(value)[:200]


def why_not(node: Node, value: Any) -> str:
    source = getattr(node.when, "node", None)
    summary = getattr(value, "summary", None)
    if source and summary:
        return f"condition from {source!r} not met: {summary}"
    if source:
        return f"condition from {source!r} not met"
    return "condition not met"
