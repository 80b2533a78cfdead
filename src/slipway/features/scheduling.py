"""Feature views on a schedule: ``slipway scheduler`` materialises each view whose cron time has come.

A view with ``schedule="0 * * * *"`` (or ``schedule: "0 * * * *"`` in YAML) is due when a cron time
has passed since its latest materialisation (or, never materialised, since its definition was
stored or last changed). The run is incremental from the stored watermark, so two schedulers, or
a scheduler restarted mid-run, write nothing twice (a cut-off run is resumed, see
:meth:`~slipway.features.backend_online.OnlineMixin.materialize`); the times already tried are
remembered per process so a view that keeps failing is not retried every tick.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from slipway.core.errors import SlipwayError
from slipway.features.records import Materialization


def next_time(cron: str, after_ms: int) -> int:
    """The first cron time after ``after_ms``."""
    from croniter import croniter

    cursor = croniter(cron, dt.datetime.fromtimestamp(after_ms / 1000, tz=dt.UTC))
    return int(cursor.get_next(dt.datetime).timestamp() * 1000)


class MaterializeSchedule:
    """Materialises the due feature views of one workspace; called from the scheduler's tick."""

    def __init__(self, workspace: Any, report: Callable[[str], None]) -> None:
        self.workspace = workspace
        self.report = report
        self._tried: dict[str, int] = {}  # view -> the latest time this process materialised it

    def due(self, now: int) -> list[str]:
        """The scheduled views whose next cron time (after their latest run) is at or before ``now``."""
        views = [d for d in self.workspace.features.definitions("feature_view")
                 if d.spec.get("schedule") and d.spec.get("online", True)]
        if not views:
            return []
        last_runs = {s.name: s.last_run_ms for s in self.workspace.features.status()}
        due = []
        for view in views:
            last = max(last_runs.get(view.name) or 0, view.updated_ms, self._tried.get(view.name, 0))
            if next_time(view.spec["schedule"], last) <= now:
                due.append(view.name)
        return due

    def tick(self, now: int) -> list[Materialization]:
        """Materialise every due view up to ``now``; one that fails is reported and the others go on."""
        done = []
        for name in self.due(now):
            self._tried[name] = now
            try:
                [run] = self.workspace.features.materialize([name], end=now)
            except SlipwayError as err:
                self.report(f"feature view {name}: cannot materialise: {type(err).__name__}: {err.message}")
                continue
            self.report(f"feature view {name}@{run.view_version}: {run.rows} keys written up to "
                        f"{dt.datetime.fromtimestamp(run.end_ms / 1000, tz=dt.UTC).isoformat()}"
                        + (f" (resumed after {run.resumed_after})" if run.resumed else ""))
            done.append(run)
        return done
