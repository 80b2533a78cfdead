"""Cron arithmetic for schedules: validating an expression, the fire times that are due, the next one."""

from __future__ import annotations

import datetime as dt

from slipway.core.errors import InvalidInput
from slipway.pipelines.records import Schedule

MAX_CATCHUP = 1000


def check_cron(expression: str) -> str:
    """Return ``expression`` if it is a valid five-field cron expression, else raise InvalidInput."""
    from croniter import croniter

    if not isinstance(expression, str) or len(expression) > 100 or not croniter.is_valid(expression):
        raise InvalidInput(f"not a cron expression: {str(expression)[:100]!r} (e.g. '0 3 * * *' for 03:00 every day)")
    return expression


def _after(cron: str, start_ms: int) -> int:
    from croniter import croniter

    cursor = croniter(cron, dt.datetime.fromtimestamp(start_ms / 1000, tz=dt.UTC))
    return int(cursor.get_next(dt.datetime).timestamp() * 1000)


def fires_after(schedule: Schedule, last_fire_ms: int | None) -> int:
    """The time after which ``schedule`` may fire: its last firing, its creation, or its last
    update or re-enabling (times missed while it was disabled, or before a cron change, never fire)."""
    return max(t for t in (last_fire_ms, schedule.created_ms, schedule.updated_ms) if t is not None)


def due_fire_times(schedule: Schedule, last_fire_ms: int | None, now: int) -> list[int]:
    """Fire times of ``schedule`` after :func:`fires_after` up to ``now``; only the newest one
    unless the schedule catches up."""
    from croniter import croniter

    start = fires_after(schedule, last_fire_ms)
    cursor = croniter(schedule.cron, dt.datetime.fromtimestamp(start / 1000, tz=dt.UTC))
    due: list[int] = []
    while len(due) < MAX_CATCHUP:
        fire = int(cursor.get_next(dt.datetime).timestamp() * 1000)
        if fire > now:
            break
        due.append(fire)
    return due if schedule.catchup else due[-1:]


def next_fire_time(schedule: Schedule, last_fire_ms: int | None, now: int) -> int | None:
    """When ``schedule`` fires next: a fire time already due (the scheduler claims it on its next
    tick), else the first cron time after ``now``; None while it is disabled."""
    if not schedule.enabled:
        return None
    due = due_fire_times(schedule, last_fire_ms, now)
    if due:
        return due[0]
    return _after(schedule.cron, max(now, fires_after(schedule, last_fire_ms)))
