"""Monitors on a schedule: ``slipway scheduler`` runs each monitor whose cron time has come.

A monitor with ``schedule: "*/10 * * * *"`` is due when a cron time has passed since its latest
run (or, never run, since it was applied). Running it twice over the same window records one run
and fires nothing twice (see :mod:`slipway.monitoring.backend`), so two schedulers, or a
scheduler restarted mid-tick, are harmless; the times already tried are remembered per process
so an unchanged window is not re-read every tick.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from slipway.core.errors import SlipwayError
from slipway.monitoring.monitor_records import Monitor, MonitorRun


def next_time(cron: str, after_ms: int) -> int:
    """The first cron time after ``after_ms``."""
    from croniter import croniter

    cursor = croniter(cron, dt.datetime.fromtimestamp(after_ms / 1000, tz=dt.UTC))
    return int(cursor.get_next(dt.datetime).timestamp() * 1000)


class MonitorSchedule:
    """Runs the due monitors of one workspace; called from the pipelines' scheduler tick."""

    def __init__(self, workspace: Any, report: Callable[[str], None]) -> None:
        self.workspace = workspace
        self.report = report
        self._tried: dict[str, int] = {}  # monitor -> the latest time this process ran it

    def _last(self, monitor: Monitor) -> int:
        runs = self.workspace.monitoring.history(monitor.name, 1)
        latest = runs[0].created_ms if runs else monitor.updated_ms
        return max(latest, monitor.updated_ms, self._tried.get(monitor.name, 0))

    def due(self, now: int) -> list[Monitor]:
        return [m for m in self.workspace.monitoring.monitors()
                if m.spec.get("schedule") and next_time(m.spec["schedule"], self._last(m)) <= now]

    def tick(self, now: int) -> list[MonitorRun]:
        """Run every due monitor; one that fails is reported and the others go on."""
        done = []
        for monitor in self.due(now):
            self._tried[monitor.name] = now
            try:
                run = self.workspace.monitoring.run(monitor.name, now=now)
            except SlipwayError as err:
                self.report(f"monitor {monitor.name}: cannot run: {type(err).__name__}: {err.message}")
                continue
            failing = [c["name"] for c in run.result["checks"] if not c["passed"]]
            self.report(f"monitor {monitor.name}: run {run.id} {run.status}"
                        + (f" (failing: {', '.join(failing)})" if failing else "")
                        + ("" if run.created else " (window already recorded)"))
            done.append(run)
        return done
