"""What the monitor service returns: monitors, runs and alerts."""

from __future__ import annotations

from typing import Any

from slipway.core.records import record


@record
class Monitor:
    """A monitor; ``deleted_ms`` is set once it was deleted (its runs and alerts are kept);
    ``project`` is the project that owns it."""

    name: str
    revision: int
    spec: dict[str, Any]
    created_ms: int
    updated_ms: int
    deleted_ms: int | None = None
    project: str = "default"


@record
class MonitorRun:
    """One run of a monitor over one window; ``created`` is False when the window had run before."""

    id: str
    monitor: str
    revision: int
    window_key: str
    status: str  # ok | alert
    result: dict[str, Any]
    created_by: str
    created_ms: int
    created: bool = True


@record
class Alert:
    id: str
    monitor: str
    check_name: str
    state: str  # open | acknowledged | resolved
    summary: str
    occurrences: int
    first_run_id: str
    last_run_id: str
    opened_ms: int
    updated_ms: int
    updated_by: str
    note: str
