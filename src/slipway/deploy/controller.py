"""One replica of a deployment's canary controller: it ticks the canary only while it leads.

Every inference server of a deployment (and every worker supervisor) runs a controller, so a
canary keeps being stepped when a server dies; exactly one of them acts. Each tick takes or
renews the deployment's ``canary:<name>`` lease (:mod:`slipway.store.leases`) and, if this replica
holds it, calls ``canary_tick`` with the lease's fencing token: a replica whose lease passed on
while it stalled is refused in the deciding transaction, so a step is never made twice, and a
killed leader's lease expires and the next replica to tick takes over, so no step is lost.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slipway.core.clock import now_ms
from slipway.core.errors import LeaseLost
from slipway.store.leases import Leadership, replica_name

if TYPE_CHECKING:
    from slipway.deploy.service import DeployService

log = logging.getLogger("slipway.canary")
DEFAULT_LEASE_S = 15.0


class CanaryController:
    """Ticks ``deployment``'s canary while holding its lease; :meth:`tick` once per interval."""

    def __init__(self, serving: DeployService, deployment: str, holder: str | None = None,
                 lease_s: float = DEFAULT_LEASE_S, clock: Callable[[], int] = now_ms,
                 report: Callable[[str], None] | None = None) -> None:
        self.serving = serving
        self.deployment = deployment
        self.leadership = Leadership(functools.partial(serving.controller_lease, deployment),
                                     functools.partial(serving.release_controller_lease, deployment),
                                     holder or replica_name(), lease_s, clock, report or log.info)

    def tick(self) -> dict[str, Any] | None:
        """Renew or take the lease and, if this replica leads, evaluate the canary once; the
        decision, or ``None`` while another replica leads (or this one was just fenced out)."""
        token = self.leadership.refresh()
        if token is None:
            return None
        try:
            return self.serving.canary_tick(self.deployment, token)
        except LeaseLost:
            self.leadership.lease = None  # fenced out: another replica took over meanwhile
            return None

    def release(self) -> None:
        self.leadership.release()
