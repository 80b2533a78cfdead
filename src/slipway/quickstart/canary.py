"""The canary stage: traffic until the server's controller promotes or rolls back, and the
controller's decisions read back from the deployment's history."""

from __future__ import annotations

import pandas as pd

from slipway.core.errors import Conflict, NotFound
from slipway.quickstart.progress import Reporter
from slipway.quickstart.team import DEPLOYMENT, Team
from slipway.quickstart.traffic import drive_canary


def judge_canary(team: Team, url: str, rows: pd.DataFrame, reporter: Reporter, timeout: float) -> str:
    """Send ``rows`` as traffic while the server's controller judges the deployment's canary;
    returns its verdict (``promoted`` or ``rolled back``). Without a canary (a second run), the
    verdict of the latest canary is reported from the deployment's history.

    Raises:
        Conflict: the controller did not decide within ``timeout`` seconds.
    """
    deployment = team.admin.serving.get(DEPLOYMENT)
    if not any(v.role == "canary" for v in deployment.variants):
        return _report_verdict(team, reporter, "decided earlier")
    canary = next(v for v in deployment.variants if v.role == "canary")
    reporter.info(f"{canary.model}/{canary.version} takes {canary.weight:g}% of traffic; steps "
                  f"{deployment.spec['canary']['steps']}, at least {deployment.spec['canary']['min_requests']} "
                  "canary requests per step")
    final, answers = drive_canary(team.admin, url, DEPLOYMENT, rows, reporter.canary, timeout)
    reporter.end_canary()
    reporter.info("traffic: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(answers.items())))
    if final.status not in ("promoted", "rolled_back"):
        raise Conflict(f"the canary controller did not decide within {timeout:g} s "
                       f"(deployment {DEPLOYMENT} is {final.status}); see: slipway deploy status {DEPLOYMENT}")
    return _report_verdict(team, reporter, "")


def _report_verdict(team: Team, reporter: Reporter, note: str) -> str:
    """Print the controller's decisions of the latest canary (from the deployment history)."""
    history = list(reversed(team.admin.serving.history(DEPLOYMENT, 1000)))
    last_apply = max((i for i, h in enumerate(history) if h.action == "apply"), default=0)
    decisions = [h for h in history[last_apply + 1:] if h.action.startswith(("canary.", "promote", "rollback"))]
    if not decisions:
        raise NotFound(f"deployment {DEPLOYMENT} has no canary decision yet; see: slipway deploy history {DEPLOYMENT}")
    for entry in decisions:
        reason = entry.details.get("reason") or ", ".join(f"{k}: {v}" for k, v in entry.details.items())
        reporter.info(f"revision {entry.revision} {entry.action}: {reason}" + (f" ({note})" if note else ""))
    final = next(h for h in reversed(decisions) if h.action in ("promote", "rollback"))
    verdict = "promoted" if final.action == "promote" else "rolled back"
    (reporter.ok if verdict == "promoted" else reporter.refused)(f"the controller {verdict} the canary")
    return verdict
