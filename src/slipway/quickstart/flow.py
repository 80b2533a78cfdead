"""The quickstart, stage by stage. Each stage looks at what the home holds first, so a second run
in the same home adds no data version, takes every pipeline step from the cache, and ends in the
same state."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from slipway.core.errors import Conflict
from slipway.pipelines.scheduler import Scheduler
from slipway.quickstart import stages
from slipway.quickstart.canary import judge_canary
from slipway.quickstart.drops import version_drop
from slipway.quickstart.progress import Reporter
from slipway.quickstart.project import Project, drop_rows, locate
from slipway.quickstart.schedule import ensure_trigger, triggered_run
from slipway.quickstart.server import InferenceServer
from slipway.quickstart.team import DATASET, DEPLOYMENT, MODEL, Team, open_team, prepare_governance
from slipway.quickstart.traffic import check_answers

STAGES = 9


@dataclasses.dataclass(frozen=True)
class QuickstartOptions:
    home: Path
    data: Path | None = None
    serve: bool = False
    port: int = 0
    canary_timeout: float = 120.0


@dataclasses.dataclass
class Outcome:
    """Where things ended up (what the CLI prints at the end)."""

    home: Path
    config: Path
    champion: str = ""
    verdict: str = ""
    server_url: str = ""
    runs: list[str] = dataclasses.field(default_factory=list)
    audit_events: int = 0
    seconds: float = 0.0
    server: InferenceServer | None = None


def run_quickstart(options: QuickstartOptions, console: Console) -> Outcome:
    """Run the example end to end; returns the outcome (with the server still running if
    ``options.serve``; the caller waits on it).

    Raises:
        NotFound: the example project or the AI4I data is missing.
        Conflict: a stage could not complete (the message says which and why).
    """
    started = time.monotonic()
    project = locate(options.home, options.data)
    outcome = Outcome(project.home, project.config)
    team = open_team(project)
    server: InferenceServer | None = None
    try:
        with Reporter(console, STAGES) as reporter:
            server = _run(project, team, options, reporter, outcome)
            reporter.finish()
        outcome.seconds = time.monotonic() - started
        if options.serve:
            outcome.server, server = server, None
        return outcome
    finally:
        if server is not None:
            server.stop()
        team.close()


def _run(project: Project, team: Team, options: QuickstartOptions, reporter: Reporter, outcome: Outcome) -> InferenceServer:
    reporter.stage("Project, people and policy")
    reporter.info(f"example {project.folder}, data {project.data}, home {project.home}")
    reporter.ok("users alice (developer, deployer, approver) and bob (approver)")
    for created in prepare_governance(team, project):
        reporter.ok(f"created {created}")

    reporter.stage("Version the history and its schema")
    first = _drop(team, project, 0, reporter)
    schema = team.alice.data.infer_schema(first.ref)
    reporter.ok(f"schema of {DATASET}: revision {schema.revision} (inferred from {first.ref}; UDI stays open-ended)")

    reporter.stage("Validate, train, evaluate and bless, register (as alice)")
    run = stages.run_pipeline(team.alice, project.pipeline_ref, first.ref, reporter)
    outcome.runs.append(run.id)
    initial = stages.registered_version(team.alice, run)
    if run.step("register_model").status == "SKIPPED":
        reporter.info(f"this candidate was registered as {initial.ref} by an earlier run; the gate now compares it "
                      "with a newer champion, so nothing new is registered")

    reporter.stage(f"Approve {initial.ref} (four eyes) and make it champion")
    stages.approve_with_four_eyes(team, initial.ref, reporter)
    stages.ensure_champion(team, initial.ref, reporter)

    reporter.stage("Deploy and serve")
    run = stages.run_pipeline(team.alice, project.pipeline_ref, first.ref, reporter)
    outcome.runs.append(run.id)
    server = InferenceServer(team.settings, DEPLOYMENT, port=options.port).start()
    outcome.server_url = server.url
    reporter.ok(f"inference server for deployment {DEPLOYMENT} on {server.url}")
    week = _rows(project, drop_rows(0) - 1000, drop_rows(0))
    answers = check_answers(team.admin, server.url, DEPLOYMENT, week.head(200))
    reporter.ok(f"{answers['rows']} rows answered over v2 and /invocations, identical to the registered model "
                f"({answers['alarms']} alarms; {answers['failures']} real failures)")

    reporter.stage("A new week of data: the dataset trigger retrains")
    trigger = ensure_trigger(team.alice, project, reporter)
    second = _drop(team, project, 1, reporter)
    ran = Scheduler(team.alice, report=lambda line: reporter.info(f"scheduler: {line}")).tick()
    retrain = triggered_run(team.alice, trigger, second.ref, ran)
    if retrain.id not in {r.id for r in ran}:
        reporter.info(f"the trigger fired for {second.ref} before (pipeline run {retrain.id}); it fires once per version")
    stages.report_run(retrain, reporter)
    outcome.runs.append(retrain.id)
    candidate = stages.registered_version(team.alice, retrain)

    reporter.stage(f"Approve {candidate.ref} and deploy it as a canary")
    stages.approve_with_four_eyes(team, candidate.ref, reporter)
    run = stages.run_pipeline(team.alice, project.pipeline_ref, second.ref, reporter)
    outcome.runs.append(run.id)

    reporter.stage("Canary: traffic until the controller decides")
    outcome.verdict = judge_canary(team, server.url, _rows(project, drop_rows(0), drop_rows(1)), reporter,
                                   options.canary_timeout)

    reporter.stage("Check the result")
    champion = team.admin.registry.resolve(f"{MODEL}@champion")
    outcome.champion = champion.ref
    answers = check_answers(team.admin, server.url, DEPLOYMENT, _rows(project, drop_rows(0), drop_rows(1)).head(100))
    reporter.ok(f"{MODEL}@champion is {champion.ref}; deployment answers: "
                + ", ".join(f"{k}: {v}" for k, v in answers["answered"].items()))
    verdict = team.admin.audit.verify()
    if not verdict.ok:
        raise Conflict(f"the audit ledger failed verification at event {verdict.first_bad_seq}: {verdict.reason}")
    outcome.audit_events = verdict.events
    reporter.ok(f"audit ledger verified: {verdict.events:,} events, Merkle tree and governed rows consistent")
    return server


def _drop(team: Team, project: Project, stage: int, reporter: Reporter) -> Any:
    version, created = version_drop(team.alice, project, stage)
    if created:
        reporter.ok(f"{version.ref}: {version.rows:,} rows, digest {version.digest[:12]}")
    else:
        reporter.ok(f"{version.ref} already holds this drop ({version.rows:,} rows): no new version")
    return version


def _rows(project: Project, start: int, stop: int) -> pd.DataFrame:
    """Records ``start`` to ``stop`` (0-based, in time order) of the raw data."""
    return pd.read_csv(project.data, skiprows=range(1, start + 1), nrows=stop - start)
