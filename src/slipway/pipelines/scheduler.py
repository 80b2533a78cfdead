"""The scheduler: turns due cron firings and new dataset versions into pipeline runs.

Each tick claims every due firing (a schedule's fire time, a trigger's dataset version) through
the backend, which inserts the firing row and the QUEUED run in one transaction: a firing already
claimed, by this process before a restart or by another scheduler, is never claimed again. Then
it executes the QUEUED runs one by one; starting a run is itself a claim (QUEUED → RUNNING), so a
run queued before a crash is executed after the restart, exactly once. A run whose process was
killed mid-way stops sending heartbeats; the next tick fails it and queues a resume of it (in one
transaction), which reuses the steps it completed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from slipway.core.clock import iso, now_ms, parse_time
from slipway.core.errors import Conflict, SlipwayError
from slipway.pipelines.dataset_events import new_versions
from slipway.pipelines.records import PipelineRun, Schedule

log = logging.getLogger("slipway.scheduler")
MAX_CATCHUP = 1000


def due_fire_times(schedule: Schedule, last_fire_ms: int | None, now: int) -> list[int]:
    """Fire times of ``schedule`` after its last firing (or its creation) up to ``now``; only the
    newest one unless the schedule catches up."""
    from croniter import croniter

    start = last_fire_ms if last_fire_ms is not None else schedule.created_ms
    cursor = croniter(schedule.cron, dt.datetime.fromtimestamp(start / 1000, tz=dt.UTC))
    due: list[int] = []
    while len(due) < MAX_CATCHUP:
        fire = int(cursor.get_next(dt.datetime).timestamp() * 1000)
        if fire > now:
            break
        due.append(fire)
    return due if schedule.catchup else due[-1:]


class Scheduler:
    """Runs schedules and triggers of one workspace; ``tick`` once, or ``run_forever``."""

    def __init__(self, workspace: Any, poll_seconds: float = 5.0, clock: Callable[[], int] = now_ms,
                 report: Callable[[str], None] | None = None, stale_after_s: float = 120.0) -> None:
        self.workspace = workspace
        self.pipelines = workspace.pipelines
        self.backend = workspace.backend("pipelines")
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.report = report or log.info
        self.stale_after_ms = int(stale_after_s * 1000)  # runs heartbeat every 5 s

    def recover(self) -> list[PipelineRun]:
        """Fail runs whose process was killed, and queue scheduled or triggered ones again."""
        queued: list[PipelineRun] = self.backend.recover_stale(self.clock() - self.stale_after_ms)
        for run in queued:
            self.report(f"pipeline run {run.resumed_from} lost its process; queued {run.id} to resume it")
        return queued

    def claim_due(self) -> list[PipelineRun]:
        """Claim every due firing; returns the runs this call queued."""
        now = self.clock()
        claimed: list[PipelineRun] = []
        for schedule in self.backend.list_schedules():
            if not schedule.enabled:
                continue
            last = self.backend.list_firings(schedule.id, 1)
            for fire in due_fire_times(schedule, parse_time(last[0].event) if last else None, now):
                run = self.backend.claim_firing(schedule.id, iso(fire), _name(schedule.pipeline))
                if run is not None:
                    self.report(f"schedule {schedule.name}: firing {iso(fire)} queued pipeline run {run.id}")
                    claimed.append(run)
        for trigger in self.backend.list_triggers(kind="dataset"):
            if not trigger.enabled:
                continue
            for event in new_versions(self.workspace, trigger.target, trigger.baseline):
                run = self.backend.claim_firing(trigger.id, event, _name(trigger.pipeline))
                if run is not None:
                    self.report(f"trigger {trigger.name}: {event} queued pipeline run {run.id}")
                    claimed.append(run)
        return claimed

    def execute_queued(self, stop: threading.Event | None = None) -> list[PipelineRun]:
        """Execute QUEUED runs, oldest first, skipping those another scheduler started."""
        done = []
        for queued in sorted(self.backend.list_runs(status="QUEUED", limit=1000), key=lambda r: r.created_ms):
            if stop is not None and stop.is_set():
                break
            try:
                run = self.pipelines.execute_queued(queued.id)
            except Conflict:
                continue
            self.report(f"pipeline run {run.id} ({run.pipeline}, {run.reason.get('kind')} "
                        f"{run.reason.get('name')} {run.reason.get('event')}) {run.status}"
                        + (f": {run.error}" if run.error else ""))
            done.append(run)
        return done

    def tick(self, stop: threading.Event | None = None) -> list[PipelineRun]:
        self.recover()
        self.claim_due()
        return self.execute_queued(stop)

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Tick every ``poll_seconds`` until ``stop`` is set; a failing tick is reported, not fatal."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.tick(stop)
            except SlipwayError as err:
                self.report(f"scheduler tick failed: {type(err).__name__}: {err.message}")
            stop.wait(self.poll_seconds)


def _name(ref: str) -> str:
    return ref.rpartition(":")[2].rpartition(".")[2]
