"""Predictive maintenance on AI4I, end to end, on the embedded default (``slipway quickstart``
runs this file; so does ``python examples/predictive_maintenance/run.py --home DIR``).

Versioned data -> validated, tracked training -> evaluation gate -> registry -> four-eyes
approval -> a served deployment answering real requests -> a new week of data -> the dataset
trigger retrains -> a canary the controller promotes or rolls back -> a monitor on the deployment:
a week whose torque drifted is retrained on and canaried, a week whose feature pipeline zeroes a
column is rolled back (``loop.py``). Every stage checks what the home already holds, so a second
run reuses it (no new data versions, pipeline steps cached, each week handled once).

Only Slipway's public API is used: ``slipway.connect`` and the workspace's ``data``,
``registry``, ``governance``, ``identity``, ``pipelines``, ``serving`` and ``audit``, plus
``slipway.generate_signing_key``, ``slipway.serve_in_background`` and
``slipway.pipelines.Scheduler``, and ``monitoring``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from drops import DATASET, Project, drop_rows, locate, version_drop
from loop import drift_week, watch, zeroed_week_story
from people import Team, approve_with_four_eyes, ensure_champion, open_team, prepare_governance
from report import DEPLOYMENT, MODEL, Outcome, Reporter, print_summary
from retraining import ensure_trigger, registered_version, run_pipeline, triggered_run
from rich.console import Console
from traffic import check_answers, judge_canary

import slipway
from slipway import Conflict
from slipway.pipelines import Scheduler

STAGES = 12


def quickstart(home: Path, data: Path | None = None, *, serve: bool = False, port: int = 0,
               console: Console | None = None, canary_timeout: float = 120.0, server_url: str = "",
               token: str = "") -> Outcome:
    """Run the example end to end in ``home``; returns the outcome (with the inference server
    still running if ``serve``: the caller waits on or stops ``outcome.server``). With
    ``server_url`` (a team's servers, comma-separated) and the admin's ``token``, everything is
    recorded there instead, through the same calls (``home`` then holds only local files).

    Raises:
        NotFound: the example's files or the AI4I data are missing (nothing is written then).
        Conflict: a stage could not complete (the message says which and why).
    """
    console = console or Console()
    started = time.monotonic()
    project = locate(home, data, server_url, token)
    outcome = Outcome(project.home, project.config)
    team = open_team(project)
    server = None
    try:
        with Reporter(console, STAGES) as reporter:
            server = _story(project, team, reporter, outcome, port, canary_timeout)
            reporter.finish()
        outcome.seconds = time.monotonic() - started
        if serve:
            outcome.server, server = server, None
        return outcome
    finally:
        if server is not None:
            server.stop()
        team.close()


def _story(project: Project, team: Team, reporter: Reporter, outcome: Outcome, port: int,
           canary_timeout: float) -> Any:
    alice = team.alice
    reporter.stage("Project, people and policy")
    reporter.info(f"example {project.folder}, data {project.data}, home {project.home}")
    reporter.ok("users alice (developer, deployer, approver) and bob (approver)")
    for created in prepare_governance(team, project):
        reporter.ok(f"created {created}")

    reporter.stage("Version the history and its schema")
    first = _drop(alice, project, 0, reporter)
    schema = alice.data.infer_schema(first.ref)
    reporter.ok(f"schema of {DATASET}: revision {schema.revision} (inferred from {first.ref}; UDI stays open-ended)")

    reporter.stage("Validate, train, evaluate and bless, register (as alice)")
    run = run_pipeline(alice, project, first.ref, reporter)
    outcome.runs.append(run.id)
    initial = registered_version(alice, run)
    if run.step("register_model").status == "SKIPPED":
        reporter.info(f"this candidate was registered as {initial.ref} by an earlier run; the gate now compares it "
                      "with a newer champion, so nothing new is registered")

    reporter.stage(f"Approve {initial.ref} (four eyes) and make it champion")
    approve_with_four_eyes(team, initial.ref, reporter)
    ensure_champion(team, initial.ref, reporter)

    reporter.stage("Deploy and serve")
    run = run_pipeline(alice, project, first.ref, reporter)
    outcome.runs.append(run.id)
    server = slipway.serve_in_background(team.admin, DEPLOYMENT, port=port)
    outcome.server_url = server.url
    reporter.ok(f"inference server for deployment {DEPLOYMENT} on {server.url}")
    week = _rows(project, drop_rows(0) - 1000, drop_rows(0))
    answers = check_answers(team.admin, server.url, week.head(200))
    reporter.ok(f"{answers['rows']} rows answered over v2 and /invocations, identical to the registered model "
                f"({answers['alarms']} alarms; {answers['failures']} real failures)")

    reporter.stage("A new week of data: the dataset trigger retrains")
    trigger = ensure_trigger(alice, project, reporter)
    second = _drop(alice, project, 1, reporter)
    ran = Scheduler(alice, report=lambda line: reporter.info(f"scheduler: {line}")).tick()
    retrain = triggered_run(alice, trigger, second.ref, ran)
    if retrain.id not in {r.id for r in ran}:
        reporter.info(f"the trigger fired for {second.ref} before (pipeline run {retrain.id}); it fires once per version")
    reporter.pipeline_run(retrain)
    outcome.runs.append(retrain.id)
    candidate = registered_version(alice, retrain)

    reporter.stage(f"Approve {candidate.ref} and deploy it as a canary")
    approve_with_four_eyes(team, candidate.ref, reporter)
    run = run_pipeline(alice, project, second.ref, reporter)
    outcome.runs.append(run.id)

    reporter.stage("Canary: traffic until the controller decides")
    new_week = _rows(project, drop_rows(0), drop_rows(1))
    outcome.verdict = judge_canary(team.admin, server.url, new_week, reporter, canary_timeout)

    reporter.stage("Monitor the deployment")
    watch(team, reporter)

    reporter.stage("A week whose torque drifted: the monitor alerts, the alert retrains")
    drift_week(team, project, server.url, reporter, outcome, canary_timeout)

    reporter.stage("A week whose feature pipeline zeroes tool wear: roll back")
    zeroed_week_story(team, project, server.url, reporter, outcome)

    reporter.stage("Check the result")
    champion = team.admin.registry.resolve(f"{MODEL}@champion")
    outcome.champion = champion.ref
    answers = check_answers(team.admin, server.url, new_week.head(100))
    reporter.ok(f"{MODEL}@champion is {champion.ref}; deployment answers: "
                + ", ".join(f"{k}: {v}" for k, v in answers["answered"].items()))
    verdict = team.admin.audit.verify()
    if not verdict.ok:
        raise Conflict(f"the audit ledger failed verification at event {verdict.first_bad_seq}: {verdict.reason}")
    outcome.audit_events = verdict.events
    reporter.ok(f"audit ledger verified: {verdict.events:,} events, Merkle tree and governed rows consistent")
    return server


def _drop(ws: slipway.Workspace, project: Project, stage: int, reporter: Reporter) -> Any:
    version, created = version_drop(ws, project, stage)
    if created:
        reporter.ok(f"{version.ref}: {version.rows:,} rows, digest {version.digest[:12]}")
    else:
        reporter.ok(f"{version.ref} already holds this drop ({version.rows:,} rows): no new version")
    return version


def _rows(project: Project, start: int, stop: int) -> pd.DataFrame:
    """Records ``start`` to ``stop`` (0-based, in time order) of the raw data."""
    return pd.read_csv(project.data, skiprows=range(1, start + 1), nrows=stop - start)


def present(outcome: Outcome, console: Console) -> None:
    """Print the summary; with a server still running, serve until Ctrl-C."""
    print_summary(outcome, console)
    if outcome.server is not None:
        console.print(f"\nServing on [bold]{outcome.server.url}[/] - Ctrl-C to stop.", highlight=False)
        try:
            outcome.server.wait()
        except KeyboardInterrupt:
            outcome.server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--home", type=Path, default=Path(".slipway-quickstart"), help="folder to record everything in")
    parser.add_argument("--data", type=Path, default=None, help="the AI4I CSV")
    parser.add_argument("--serve", action="store_true", help="keep the inference server running at the end")
    parser.add_argument("--port", type=int, default=0, help="port for the inference server (0: any free port)")
    parser.add_argument("--server-url", default="", help="a team's platform servers, comma-separated (default: embedded)")
    parser.add_argument("--token", default="", help="the admin's API token on those servers")
    parser.add_argument("--canary-timeout", type=float, default=120.0,
                        help="seconds of traffic to wait for each canary decision")
    args = parser.parse_args(argv)
    console = Console()
    try:
        outcome = quickstart(args.home, args.data, serve=args.serve, port=args.port, console=console,
                             server_url=args.server_url, token=args.token, canary_timeout=args.canary_timeout)
    except slipway.SlipwayError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    present(outcome, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
