"""``slipway scheduler``: the long-running process that fires schedules and dataset triggers, runs
scheduled monitors and materialisations, and polls ServiceNow tickets."""

from __future__ import annotations

import signal
import threading
from typing import Any

import typer

from slipway.cli.output import console


def register(app: typer.Typer) -> None:
    @app.command("scheduler")
    def scheduler(
        poll: float = typer.Option(5.0, help="Seconds between checks for due schedules and new dataset versions."),
        once: bool = typer.Option(False, "--once", help="Check and run what is due once, then exit."),
        stale_after: float = typer.Option(30.0, min=10.0, help="Seconds without a heartbeat after which a "
                                          "running pipeline run is failed as killed (runs beat every 5 s)."),
        lease_seconds: float = typer.Option(30.0, "--lease-seconds", min=1.0, max=3600.0,
                                            help="With several schedulers, only the one holding the scheduler lease "
                                            "acts; a killed one's lease expires after this and another takes over."),
        ticket_sync: float | None = typer.Option(None, "--ticket-sync", min=0.0,
                                          help="Seconds between polls of open ServiceNow change requests (ticketed "
                                          "sign-off); default [governance.servicenow] sync_interval_s, 0 turns it off."),
    ) -> None:
        """Run cron schedules and dataset triggers (see `slipway pipelines schedule|trigger`), scheduled
        monitors and materialisations, and poll ServiceNow tickets when ticketed sign-off is on.

        Safe to restart at any time and to run as several replicas: one holds the scheduler lease
        and acts, the others stand by and take over when it dies, and each firing is claimed
        exactly once anyway. One bad schedule, trigger or run is reported and never stops the others.
        """
        from slipway.cli.context import workspace
        from slipway.pipelines.scheduler import Scheduler

        stop = threading.Event()

        def on_signal(_signum: int, _frame: Any) -> None:
            stop.set()  # finish the run in progress, then exit

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        runner = Scheduler(workspace(), poll_seconds=poll, stale_after_s=stale_after, lease_s=lease_seconds,
                           ticket_sync_s=ticket_sync, report=lambda line: console.print(line, highlight=False))
        if once:
            runner.tick(stop)
            return
        console.print(f"Slipway scheduler: checking every {poll:g} s", highlight=False)
        runner.run_forever(stop)
