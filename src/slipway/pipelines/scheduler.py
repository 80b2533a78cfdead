"""The scheduler: turns due cron firings and new dataset versions into pipeline runs.

Each tick claims every due firing (a schedule's fire time, a trigger's dataset version) through
the backend, which inserts the firing row and the QUEUED run in one transaction: a firing already
claimed, by this process before a restart or by another scheduler, is never claimed again. Then
it executes the QUEUED runs one by one; starting a run is itself a claim (QUEUED → RUNNING), so a
run queued before a crash is executed after the restart, exactly once. A run whose process was
killed mid-way stops sending heartbeats; the next tick fails it and queues a resume of it (in one
transaction), which reuses the steps it completed.

Each tick also runs the monitors whose schedule is due (their alerts may queue runs),
materialises the feature views whose schedule is due (:mod:`slipway.features.scheduling`) and,
with ticketed sign-off on, polls the open ServiceNow change requests every
``[governance.servicenow] sync_interval_s`` (:mod:`slipway.governance.ticket_schedule`).

Several scheduler processes may run (replicas, so that one can die): :meth:`Scheduler.run_forever`
ticks only while it holds the ``scheduler`` lease (:mod:`slipway.store.leases`), renewed every
tick and from a thread during long runs; the others stand by and the first to see the lease
expire (its holder was killed) takes over. A clean shutdown releases the lease at once. Exactly
one replica acts; were two ever to overlap (a stalled leader waking after its lease passed on),
the claims above still fire each firing and start each run once.

One bad schedule, trigger or run never stops the others: each is handled on its own, a run whose
pipeline cannot be loaded ends FAILED at once, a run that fails to start for another reason is
tried again with backoff up to :data:`MAX_START_ATTEMPTS` times and then failed, and a run that
keeps killing its process is resumed at most :data:`~slipway.pipelines.backend_liveness.MAX_RUN_ATTEMPTS`
times in all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from slipway.core.clock import iso, now_ms, parse_time
from slipway.core.errors import Conflict, SlipwayError
from slipway.pipelines.cron import MAX_CATCHUP, due_fire_times
from slipway.pipelines.dataset_events import new_versions
from slipway.pipelines.executor import STALE_AFTER_S
from slipway.pipelines.records import PipelineRun
from slipway.pipelines.service_schedules import pipeline_name
from slipway.store.leases import Leadership, replica_name

log = logging.getLogger("slipway.scheduler")
MAX_START_ATTEMPTS = 3
START_BACKOFF_MS = 10_000  # a run that failed to start waits this long, then twice as long

__all__ = ["MAX_CATCHUP", "Scheduler", "due_fire_times"]


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err.message if isinstance(err, SlipwayError) else err}"


class Scheduler:
    """Runs schedules and triggers of one workspace; ``tick`` once, or ``run_forever``."""

    def __init__(self, workspace: Any, poll_seconds: float = 5.0, clock: Callable[[], int] = now_ms,
                 report: Callable[[str], None] | None = None, stale_after_s: float = STALE_AFTER_S,
                 holder: str | None = None, lease_s: float = 30.0, ticket_sync_s: float | None = None) -> None:
        self.workspace = workspace
        self.pipelines = workspace.pipelines
        self.backend = workspace.backend("pipelines")
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.report = report or log.info
        self.stale_after_ms = int(stale_after_s * 1000)  # runs heartbeat every 5 s
        self._start_failures: dict[str, tuple[int, int]] = {}  # run id -> (failed starts, retry at ms)
        self._monitors: Any = None
        self.leadership = Leadership(self.backend.scheduler_lease, self.backend.release_scheduler_lease,
                                     holder or replica_name(), lease_s, clock, self.report)
        self._leading_only = False  # set by run_forever: stop starting runs once the lease is lost
        self._features: Any = None
        self._tickets: Any = None
        self._ticket_sync_s = ticket_sync_s  # None: [governance.servicenow] sync_interval_s

    def recover(self) -> list[PipelineRun]:
        """Fail runs whose process was killed, and queue scheduled or triggered ones again."""
        now = self.clock()
        queued: list[PipelineRun] = self.backend.recover_stale(now - self.stale_after_ms, None, True, now)
        for run in queued:
            self.report(f"pipeline run {run.resumed_from} lost its process; queued {run.id} to resume it "
                        f"(attempt {run.reason.get('attempt')})")
        return queued

    def claim_due(self) -> list[PipelineRun]:
        """Claim every due firing; returns the runs this call queued. A schedule or trigger that
        cannot be checked (its dataset was deleted, say) is reported and the others go on."""
        now = self.clock()
        claimed: list[PipelineRun] = []
        for schedule in self.backend.list_schedules():
            if not schedule.enabled:
                continue
            try:
                last = self.backend.list_firings(schedule.id, 1)
                for fire in due_fire_times(schedule, parse_time(last[0].event) if last else None, now):
                    run = self.backend.claim_firing(schedule.id, iso(fire), pipeline_name(schedule.pipeline))
                    if run is not None:
                        self.report(f"schedule {schedule.name}: firing {iso(fire)} queued pipeline run {run.id}")
                        claimed.append(run)
            except Exception as err:  # noqa: BLE001 - one bad schedule must not stop the others
                self.report(f"schedule {schedule.name}: cannot fire: {_describe(err)}")
        for trigger in self.backend.list_triggers(kind="dataset"):
            if not trigger.enabled:
                continue
            try:
                for event in new_versions(self.workspace, trigger.target, trigger.baseline):
                    run = self.backend.claim_firing(trigger.id, event, pipeline_name(trigger.pipeline))
                    if run is not None:
                        self.report(f"trigger {trigger.name}: {event} queued pipeline run {run.id}")
                        claimed.append(run)
            except Exception as err:  # noqa: BLE001 - one bad trigger must not stop the others
                self.report(f"trigger {trigger.name}: cannot fire: {_describe(err)}")
        return claimed

    def execute_queued(self, stop: threading.Event | None = None) -> list[PipelineRun]:
        """Execute QUEUED runs, oldest first, skipping those another scheduler started and those
        held back (a recovery's backoff, a failed start's retry time)."""
        done = []
        now = self.clock()
        for queued in sorted(self.backend.list_runs(status="QUEUED", limit=1000), key=lambda r: r.created_ms):
            if stop is not None and stop.is_set():
                break
            if self._leading_only and self.leadership.token is None:
                self.report("lost the scheduler lease; leaving the queued runs to the new leader")
                break
            if queued.reason.get("not_before_ms", 0) > now or self._start_failures.get(queued.id, (0, 0))[1] > now:
                continue
            try:
                run = self.pipelines.execute_queued(queued.id)
            except Conflict:
                continue
            except Exception as err:  # noqa: BLE001 - one bad run must not stop the others
                self._start_failed(queued, err)
                continue
            self._start_failures.pop(queued.id, None)
            self.report(f"pipeline run {run.id} ({run.pipeline}, {run.reason.get('kind')} "
                        f"{run.reason.get('name')} {run.reason.get('event')}) {run.status}"
                        + (f": {run.error}" if run.error else ""))
            done.append(run)
        return done

    def _start_failed(self, queued: PipelineRun, err: BaseException) -> None:
        """Note a failed start of ``queued``: retried with backoff, FAILED after the last attempt."""
        failures = self._start_failures.get(queued.id, (0, 0))[0] + 1
        if failures < MAX_START_ATTEMPTS:
            retry_at = self.clock() + START_BACKOFF_MS * 2 ** (failures - 1)
            self._start_failures[queued.id] = (failures, retry_at)
            self.report(f"pipeline run {queued.id} failed to start ({_describe(err)}); trying again at {iso(retry_at)}")
            return
        self._start_failures.pop(queued.id, None)
        try:
            self.backend.finish_run(queued.id, "FAILED",
                                    f"failed to start {failures} times; last error: {_describe(err)}"[:5000])
            self.report(f"pipeline run {queued.id} FAILED after {failures} attempts to start: {_describe(err)}")
        except SlipwayError as finish_err:  # it started or ended meanwhile, or the store is down
            self.report(f"pipeline run {queued.id}: cannot mark it failed: {_describe(finish_err)}")

    def run_monitors(self) -> list[Any]:
        """Run the monitors whose schedule is due; the runs their alerts queue (a monitor's
        ``pipeline`` action) are executed with the others (see :mod:`slipway.monitoring.scheduling`)."""
        if self._monitors is None:
            from slipway.monitoring.scheduling import MonitorSchedule

            self._monitors = MonitorSchedule(self.workspace, self.report)
        try:
            return self._monitors.tick(self.clock())
        except Exception as err:  # noqa: BLE001 - monitors must not stop the pipelines
            self.report(f"monitors: cannot run: {_describe(err)}")
            return []

    def run_materializations(self) -> list[Any]:
        """Materialise the feature views whose schedule is due (see :mod:`slipway.features.scheduling`)."""
        if self._features is None:
            from slipway.features.scheduling import MaterializeSchedule

            self._features = MaterializeSchedule(self.workspace, self.report)
        try:
            return self._features.tick(self.clock())
        except Exception as err:  # noqa: BLE001 - feature views must not stop the pipelines
            self.report(f"feature views: cannot materialise: {_describe(err)}")
            return []

    def sync_tickets(self) -> list[Any]:
        """Poll the open change requests when their interval has passed (see
        :mod:`slipway.governance.ticket_schedule`); nothing when ticketed sign-off is off."""
        try:
            if self._tickets is None:
                from slipway.governance.ticket_schedule import TicketSchedule

                self._tickets = TicketSchedule(self.workspace, self.report, self._ticket_sync_s)
            return self._tickets.tick(self.clock())
        except Exception as err:  # noqa: BLE001 - a ticketing outage must not stop the pipelines
            self.report(f"tickets: cannot sync: {_describe(err)}")
            return []

    def tick(self, stop: threading.Event | None = None) -> list[PipelineRun]:
        self.recover()
        self.claim_due()
        self.run_monitors()
        self.run_materializations()
        self.sync_tickets()
        return self.execute_queued(stop)

    def lead_once(self, stop: threading.Event | None = None) -> list[PipelineRun] | None:
        """Take or renew the scheduler lease and tick if this replica leads; ``None`` if it stands by."""
        if self.leadership.refresh() is None:
            return None
        return self.tick(stop)

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Every ``poll_seconds`` until ``stop`` is set: tick if this replica holds the scheduler
        lease, else stand by. A failing tick is reported, not fatal; the lease is released on exit."""
        stop = stop or threading.Event()
        self._leading_only = True
        done = threading.Event()
        self.leadership.keep_renewing(done)
        try:
            while not stop.is_set():
                try:
                    self.lead_once(stop)
                except Exception as err:  # noqa: BLE001 - the scheduler outlives any one bad tick
                    log.debug("scheduler tick failed", exc_info=True)
                    self.report(f"scheduler tick failed: {_describe(err)}")
                stop.wait(self.poll_seconds)
        finally:
            done.set()
            self.leadership.release()
