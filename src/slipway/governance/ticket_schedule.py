"""Ticket polling on a schedule: ``slipway scheduler`` syncs ServiceNow change requests.

With ticketed sign-off on (``[governance.servicenow] instance_url``), each scheduler tick calls
``ws.governance.sync_tickets()`` once ``sync_interval_s`` (default 60 s) has passed since the last
sync: a ticket opening that failed is retried, and each approved or rejected change becomes its
approvers' decisions (see :mod:`slipway.governance.backend_tickets`). It runs inside the
scheduler's tick, so with several scheduler replicas only the holder of the scheduler lease polls
ServiceNow. Recording a verdict is idempotent anyway (a change's decisions are recorded once), so
an overlap during a lease hand-over does no harm.

The scheduler's identity must hold ``governance.approve`` (a service account with the approver
role, e.g. ``servicenow``): it relays the ticket's verdict, the ticket's approvers are the
approvers of record. Against a server (``SLIPWAY_SERVER_URL``) the server's settings decide
whether ticketing is on; a server without it, or a scheduler identity without
``governance.approve``, is reported once and not asked again until the scheduler restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slipway.core.errors import InvalidInput, PermissionDenied, SlipwayError
from slipway.governance.records import TicketSync
from slipway.webhooks.settings import servicenow_settings


class TicketSchedule:
    """Syncs the open tickets of one workspace every ``interval_s``; called from the scheduler's tick."""

    def __init__(self, workspace: Any, report: Callable[[str], None], interval_s: float | None = None) -> None:
        conf = servicenow_settings(workspace.settings)
        self.workspace = workspace
        self.report = report
        self.enabled = bool(conf.instance_url) or bool(getattr(workspace, "remote", False))
        self.interval_ms = int(1000 * (conf.sync_interval_s if interval_s is None else interval_s))
        self._last: int | None = None  # when this process last synced

    def due(self, now: int) -> bool:
        if not self.enabled or self.interval_ms <= 0:
            return False
        return self._last is None or now - self._last >= self.interval_ms

    def tick(self, now: int) -> list[TicketSync]:
        """Sync the open tickets if the interval has passed; each outcome other than ``waiting`` is
        reported, as is a sync that fails (it is tried again after the interval)."""
        if not self.due(now):
            return []
        self._last = now
        try:
            results: list[TicketSync] = self.workspace.governance.sync_tickets()
        except (InvalidInput, PermissionDenied) as err:  # ticketing off (on the server), or not ours to relay
            self.enabled = False
            self.report(f"tickets: not polling (until the scheduler restarts): {err.message}")
            return []
        except SlipwayError as err:
            self.report(f"tickets: cannot sync: {type(err).__name__}: {err.message}")
            return []
        for result in results:
            if result.outcome != "waiting":
                self.report(f"ticket {result.ticket_number or '(none)'} for {result.ref}: {result.outcome}"
                            + (f" ({result.detail})" if result.detail else ""))
        return results
