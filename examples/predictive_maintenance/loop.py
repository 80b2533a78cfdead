"""The monitoring loop after the canary: a monitor watches the deployment, then two weeks arrive.

- **Week 2: the torque readings drifted.** The line ran heavier jobs: every torque reading is
  6 Nm higher (about 0.6 standard deviations) and the failure labels follow AI4I's own published
  failure rules (power and overstrain) for the new torque, so the relation the model learned still
  holds. The monitor alerts on drift naming only torque, quality passes, the diagnosis says data
  drift with a healthy feature pipeline, and the alert's pipeline action retrains on recent data
  (half of the new week in training, half to judge); the new version is approved and canaried.
- **Week 3: the feature pipeline zeroes tool wear.** The quality check catches a zeroed,
  constant column (drift fires too, but the pipeline action holds back: ``unless: [quality]``),
  the diagnosis says feature pipeline fault, and the rollback action sends the deployment back
  to the previous champion instead of retraining.

Each week is handled once per home: a second run finds the audited action and reports it.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import numpy as np
import pandas as pd
from drops import DATASET, HERE, Project, drop_rows, version_drop
from people import Team, approve_with_four_eyes
from report import DEPLOYMENT, MODEL, Outcome, Reporter
from retraining import TRIGGER, registered_version
from rich.markup import escape
from traffic import ask, judge_canary

from slipway import Conflict, Workspace
from slipway.pipelines import Scheduler

MONITOR = "maintenance-inputs"
ALERT_TRIGGER = "retrain-on-drift"
TORQUE, WEAR = "Torque [Nm]", "Tool wear [min]"
TORQUE_SHIFT = 6.0  # Nm
RECENT_HOLDOUT = 500  # the retrain on recent data trains on the first half of the drifted week


def _rows(project: Project, start: int, stop: int) -> pd.DataFrame:
    return pd.read_csv(project.data, skiprows=range(1, start + 1), nrows=stop - start)


def drifted_week(project: Project) -> pd.DataFrame:
    """Records 8,001-9,000 with torque 6 Nm higher, failures recomputed with AI4I's rules: power
    failure when torque x speed leaves 3,500-9,000 W, overstrain when wear x torque passes
    11,000/12,000/13,000 minNm for L/M/H products (tool wear, heat and random failures kept)."""
    week = _rows(project, drop_rows(1), drop_rows(2))
    week[TORQUE] = (week[TORQUE] + TORQUE_SHIFT).round(1)
    power = week[TORQUE] * week["Rotational speed [rpm]"] * 2 * np.pi / 60
    week["PWF"] = ((power < 3500) | (power > 9000)).astype(int)
    week["OSF"] = (week[WEAR] * week[TORQUE] > week["Type"].map({"L": 11000, "M": 12000, "H": 13000})).astype(int)
    week["Machine failure"] = (week[["TWF", "HDF", "PWF", "OSF", "RNF"]].sum(axis=1) > 0).astype(int)
    return week


def zeroed_week(project: Project) -> pd.DataFrame:
    """Records 9,001-10,000 as a broken feature pipeline delivers them: tool wear all zeros."""
    week = _rows(project, drop_rows(2), drop_rows(3))
    week[WEAR] = 0
    return week


def watch(team: Team, reporter: Reporter) -> None:
    """Apply the monitor, give its alerts a retraining trigger, and stop the weekly trigger (from
    now on the monitor decides when to retrain)."""
    alice = team.alice
    monitor = alice.monitoring.apply(HERE / "monitor.yaml")
    spec = alice.monitoring.get_monitor(MONITOR).spec
    reporter.ok(f"monitor {monitor.name} (revision {monitor.revision}) watches {spec['watch']}: "
                f"{', '.join(c['name'] for c in spec['checks'])}; reference: the served version's training data")
    triggers = {t.name: t for t in alice.pipelines.list_triggers()}
    if ALERT_TRIGGER not in triggers:
        alice.pipelines.on_alert(ALERT_TRIGGER, MONITOR, str(HERE / "pipeline.py") + ":retrain",
                                 {"dataset": DATASET, "holdout_rows": RECENT_HOLDOUT}, param="alert")
    reporter.ok(f"trigger {ALERT_TRIGGER}: an alert of {MONITOR} retrains on the latest {DATASET} "
                f"(holding out its newest {RECENT_HOLDOUT} rows)")
    if triggers.get(TRIGGER) is not None and triggers[TRIGGER].enabled:
        alice.pipelines.disable(TRIGGER)
    reporter.ok(f"trigger {TRIGGER} disabled: retraining now follows the monitor")


def _handled_before(team: Team, action: str, week: str, reporter: Reporter, outcome: Outcome) -> bool:
    """Whether an earlier run of the example took this ``monitor.action`` (then it says so)."""
    earlier = next((e for e in team.admin.audit.log(subject=f"monitor:{MONITOR}", action="monitor.action", limit=1000)
                    if e.details.get("action") == action), None)
    if earlier is not None:
        reporter.info(escape(f"handled before: alert {earlier.details['alert']}: {action} {earlier.details['outcome']}"))
        outcome.loop.append(f"{week}: handled by an earlier run (see slipway audit log --action monitor.action)")
    return earlier is not None


def send_week(ws: Workspace, url: str, week: pd.DataFrame, reporter: Reporter, batch: int = 100) -> None:
    """Serve the week as the plant's application would (v2 requests), and wait until the
    inference server has logged it."""
    before = sum(s.rows for s in ws.serving.payload_segments(DEPLOYMENT))
    with httpx.Client(base_url=url, timeout=30) as client:
        for start in range(0, len(week), batch):
            ask(client, week.iloc[start:start + batch], "v2")
    deadline = time.monotonic() + 60
    while sum(s.rows for s in ws.serving.payload_segments(DEPLOYMENT)) < before + len(week):
        if time.monotonic() > deadline:
            raise Conflict(f"the inference server did not log the week's {len(week)} rows within 60 s")
        time.sleep(0.2)
    reporter.ok(f"{len(week):,} requests of the week answered and logged")


def _run_monitor(team: Team, reporter: Reporter) -> Any:
    """Alice runs the monitor (as the scheduler would); the admin reads the actions it audited."""
    run = team.alice.monitoring.run(MONITOR)
    for check in run.result["checks"]:
        line = f"check {check['name']}: {'passed' if check['passed'] else 'FAILED'} - {check['summary']}"
        (reporter.ok if check["passed"] else reporter.refused)(escape(line))
    for event in team.admin.audit.log(subject=f"monitor:{MONITOR}", action="monitor.action", limit=10):
        if event.details["run"] == run.id:
            reporter.ok(escape(f"action {event.details['action']} on alert {event.details['alert']} "
                               f"({event.details['check']}): {event.details['outcome']}"))
    return run


def _diagnose(ws: Workspace, reporter: Reporter) -> Any:
    found = ws.monitoring.diagnose(DEPLOYMENT, window=1000)
    for step in found.steps:
        reporter.info(escape(f"diagnosis - {step.name}: {step.status}: {step.summary}"))
    reporter.ok(f"diagnosis: {found.verdict} -> {found.action}")
    return found


def drift_week(team: Team, project: Project, url: str, reporter: Reporter, outcome: Outcome,
               canary_timeout: float) -> None:
    """Week 2: drift alert -> diagnosis -> retrain on recent data -> canary."""
    alice = team.alice
    if _handled_before(team, "pipeline", "drifted torque", reporter, outcome):
        return
    week = drifted_week(project)
    body = week.to_csv(header=False, index=False, lineterminator="\n").encode()
    version, _ = version_drop(alice, project, 2, body, f"week 2 (UDI up to {drop_rows(2):,}): torque +6 Nm")
    reporter.ok(f"{version.ref}: the week's records as they arrived ({version.rows:,} rows)")
    send_week(team.admin, url, week, reporter)
    run = _run_monitor(team, reporter)
    found = _diagnose(alice, reporter)
    ran = Scheduler(alice, report=lambda line: reporter.info(f"scheduler: {line}")).tick()
    retrain = next((r for r in ran if r.reason.get("name") == ALERT_TRIGGER), None)
    if retrain is None:
        raise Conflict(f"the drift alert of run {run.id} started no retraining; see slipway audit log --action monitor.action")
    reporter.pipeline_run(retrain)
    outcome.runs.append(retrain.id)
    candidate = registered_version(alice, retrain)
    approve_with_four_eyes(team, candidate.ref, reporter)
    with reporter.console.status("deploying the approved version as a canary ..."):
        deployed = alice.pipelines.run(project.pipeline_ref, retrain.params)
    reporter.pipeline_run(deployed)
    outcome.runs.append(deployed.id)
    verdict = judge_canary(team.admin, url, week, reporter, canary_timeout)
    for alert in alice.monitoring.alerts(MONITOR, "open"):
        alice.monitoring.resolve(alert.id, f"retrained on recent data as {candidate.ref}; canary {verdict}")
    drifted = run.result["checks"][0]["drifted_columns"]
    outcome.loop.append(f"drifted torque: alert on {', '.join(drifted)}; diagnosis {found.verdict}; retrained "
                        f"{candidate.ref}, canary {verdict}")


def zeroed_week_story(team: Team, project: Project, url: str, reporter: Reporter, outcome: Outcome) -> None:
    """Week 3: quality alert -> rollback to the previous champion (no retraining)."""
    alice = team.alice
    if _handled_before(team, "rollback", "zeroed tool wear", reporter, outcome):
        return
    week = zeroed_week(project)
    send_week(team.admin, url, week, reporter)
    _run_monitor(team, reporter)
    found = _diagnose(alice, reporter)
    champion = alice.registry.resolve(f"{MODEL}@champion")
    serving = [f"{v.model}/{v.version}" for v in alice.serving.get(DEPLOYMENT).variants]
    reporter.ok(f"deployment {DEPLOYMENT} serves {', '.join(serving)}; {MODEL}@champion is {champion.ref}")
    outcome.loop.append(f"zeroed tool wear: quality alert; diagnosis {found.verdict}; rolled back to {champion.ref}")
