"""What a monitor does when a check fails: the ``actions`` of its spec, parsed, then carried out::

    actions:
      - alert                                         # open alerts, de-duplicated per check
      - webhook                                       # each new alert to the governance webhooks
      - {type: pipeline, when: [drift], unless: [quality]}   # queue the alert triggers of this monitor
      - {type: rollback, when: [quality]}               # the watched deployment (or deployment: NAME)
      - {type: pause_canary, when: [drift], deployment: maintenance}

``when`` names the checks whose newly opened alert fires the action (default: every check);
``unless`` names checks whose failure in the same run holds it back (a broken feature pipeline
must not retrain a model on broken data). ``webhook`` is delivered through the governance
outbox (signed with each subscription's sealed secret, retried by the dispatcher), queued in the
transaction that opens the alert. The others fire once per alert: only a run that opened a new
alert fires them, so re-running a window (which records nothing new) fires nothing again, and a
pipeline trigger claims each alert once (``ws.pipelines.on_alert``, the dataset triggers'
machinery). Each action is audited (``monitor.action``) with the check's numbers and its outcome.
"""

from __future__ import annotations

from typing import Any

from slipway.core.errors import InvalidInput, SlipwayError

ACTION_TYPES = ("alert", "webhook", "pipeline", "rollback", "pause_canary")
DEPLOYMENT_ACTIONS = ("rollback", "pause_canary")
_KEYS = {"type", "when", "unless", "deployment"}


def parse_actions(actions: Any, checks: list[str], watch: str) -> list[dict[str, Any]]:
    """Each action as ``{"type", "when", "unless"[, "deployment"]}``.

    Raises:
        InvalidInput: an unknown action or key, or a check name that the monitor does not have.
    """
    if not isinstance(actions, list):
        raise InvalidInput(f"actions must be a list, not {actions!r}")
    parsed = []
    for action in actions:
        item = {"type": action} if isinstance(action, str) else action
        if not isinstance(item, dict) or item.get("type") not in ACTION_TYPES:
            raise InvalidInput(f"unknown action {action!r}; supported: {', '.join(ACTION_TYPES)}")
        if set(item) - _KEYS:
            raise InvalidInput(f"unknown key(s) {sorted(set(item) - _KEYS)} in action {item['type']}; allowed: "
                               f"{sorted(_KEYS)}")
        out = {"type": item["type"], "when": item.get("when", list(checks)), "unless": item.get("unless", [])}
        for key in ("when", "unless"):
            if not isinstance(out[key], list) or any(c not in checks for c in out[key]):
                raise InvalidInput(f"'{key}' of action {item['type']} must list checks of this monitor "
                                   f"({', '.join(checks)}), not {out[key]!r}")
        if "deployment" in item:
            if item["type"] not in DEPLOYMENT_ACTIONS or not isinstance(item["deployment"], str):
                raise InvalidInput(f"'deployment' is a deployment name, for {' and '.join(DEPLOYMENT_ACTIONS)} only")
            out["deployment"] = item["deployment"]
        elif item["type"] in DEPLOYMENT_ACTIONS and not watch.startswith("deployment:"):
            raise InvalidInput(f"action {item['type']} needs 'deployment': the monitor watches {watch!r}, "
                               "not a deployment")
        parsed.append(out)
    return parsed


def wants(spec: dict[str, Any], kind: str) -> bool:
    """Whether the monitor's spec has an action of ``kind`` (older specs list plain names)."""
    return any((a if isinstance(a, str) else a["type"]) == kind for a in spec["actions"])


def due(spec: dict[str, Any], result: dict[str, Any], opened: dict[str, str]) -> list[tuple[dict[str, Any], str, str]]:
    """The actions a run fires: ``(action, check, alert id)`` for each action with a newly opened
    alert among its ``when`` checks and no failing check among its ``unless``."""
    failing = {c["name"] for c in result["checks"] if not c["passed"]}
    fired = []
    for action in spec["actions"]:
        if isinstance(action, str) or action["type"] in ("alert", "webhook"):
            continue
        checks = [c for c in action["when"] if c in opened]
        if checks and not failing & set(action["unless"]):
            fired.append((action, checks[0], opened[checks[0]]))
    return fired


def numbers(check: dict[str, Any]) -> dict[str, Any]:
    """What an audit event of the check records: the drift share and columns, or the findings."""
    if check["type"] == "drift":
        scores = {c: v["score"] for c, v in check["columns"].items() if v["drifted"]}
        return {"share_drifted": check["share_drifted"], "drifted_columns": check["drifted_columns"], "scores": scores}
    return {"findings": [{k: f[k] for k in ("kind", "column", "share")} for f in check["findings"]
                         if f["severity"] == "error"]}


def carry_out(ws: Any, monitor: str, spec: dict[str, Any], action: dict[str, Any], alert_id: str) -> dict[str, Any]:
    """Do one action; returns its outcome (``{"error": ...}`` when it could not be done)."""
    from slipway.monitoring import deploy_actions

    try:
        if action["type"] == "pipeline":
            runs = ws.pipelines.notify_alert(monitor, alert_id)
            return {"queued_runs": [r.id for r in runs], "pipelines": [r.pipeline for r in runs]}
        deployment = action.get("deployment") or spec["watch"][len("deployment:"):].partition("/")[0]
        reason = f"monitor {monitor}: alert {alert_id}"
        if action["type"] == "rollback":
            return deploy_actions.roll_back(ws, deployment, reason)
        return deploy_actions.pause_canary(ws, deployment, reason)
    except SlipwayError as err:
        return {"error": err.message}


def take(ws: Any, monitor: str, spec: dict[str, Any], run: Any, opened: dict[str, str]) -> list[dict[str, Any]]:
    """Carry out every action the run fires and audit each; returns what was done."""
    checks = {c["name"]: c for c in run.result["checks"]}
    done = []
    for action, check, alert_id in due(spec, run.result, opened):
        outcome = carry_out(ws, monitor, spec, action, alert_id)
        details = {"action": action["type"], "run": run.id, "alert": alert_id, "check": check,
                   "numbers": numbers(checks[check]), "outcome": outcome}
        ws.backend("monitoring").record_action(monitor, details)
        done.append(details)
    return done

