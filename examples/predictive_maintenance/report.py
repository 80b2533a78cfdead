"""What the example prints: an overall progress bar, one line per thing that happened, a bar for
the canary's traffic share while the controller steps it up, and the closing summary."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from slipway import Conflict

MODEL = "ai4i-failure"
DATASET = "ai4i"
DEPLOYMENT = "maintenance"


@dataclasses.dataclass
class Outcome:
    """Where things ended up (what the summary prints)."""

    home: Path
    config: Path
    champion: str = ""
    verdict: str = ""
    server_url: str = ""
    runs: list[str] = dataclasses.field(default_factory=list)
    loop: list[str] = dataclasses.field(default_factory=list)  # what the monitoring loop did, one line each
    audit_events: int = 0
    seconds: float = 0.0
    server: Any = None  # the inference server, when it keeps running (--serve)


class Reporter:
    """Use as a context manager around the run; ``stage`` starts the next of ``stages`` stages."""

    def __init__(self, console: Console, stages: int) -> None:
        self.console = console
        self.stages = stages
        self._done = 0
        self._progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)
        self._overall: TaskID = self._progress.add_task("quickstart", total=stages)
        self._canary: TaskID | None = None

    def __enter__(self) -> Reporter:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def stage(self, title: str) -> None:
        """Finish the previous stage and announce the next."""
        if self._done:
            self._progress.advance(self._overall)
        self._done += 1
        self._progress.update(self._overall, description=title)
        self.console.print(f"\n[bold cyan]{self._done}/{self.stages}[/] [bold]{title}[/]", highlight=False)

    def finish(self) -> None:
        self._progress.update(self._overall, completed=self.stages)

    def info(self, message: str) -> None:
        self.console.print(f"  {message}", highlight=False, soft_wrap=True)

    def ok(self, message: str) -> None:
        self.console.print(f"  [green]✓[/] {message}", highlight=False, soft_wrap=True)

    def refused(self, message: str) -> None:
        self.console.print(f"  [yellow]✗[/] {message}", highlight=False, soft_wrap=True)

    def canary(self, deployment: Any, answers: dict[str, int]) -> None:
        """Show the canary's current weight (0-100) and the traffic so far."""
        weight = next((v.weight for v in deployment.variants if v.role == "canary"), None)
        if deployment.status == "promoted":
            weight = 100.0
        if self._canary is None:
            self._canary = self._progress.add_task("canary weight %", total=100)
        sent = sum(answers.values())
        self._progress.update(self._canary, completed=weight or 0,
                              description=f"canary {deployment.status}, {sent:,} requests")

    def end_canary(self) -> None:
        if self._canary is not None:
            self._progress.remove_task(self._canary)
            self._canary = None

    def pipeline_run(self, run: Any) -> None:
        """One line for a pipeline run, one for the gate's verdict, one per skipped step.

        Raises:
            Conflict: the run failed (the message names the step and its error).
        """
        executed, cached = run.executed, run.cached
        self.info(f"pipeline run {run.id} {run.status}: {len(executed)} step(s) ran, {len(cached)} from the cache"
                  + (f" ({', '.join(executed)} ran)" if executed and cached else ""))
        if run.status != "SUCCEEDED":
            failed = next((s for s in run.steps if s.status == "FAILED"), None)
            where = f"step {failed.key}: {failed.error}" if failed else run.error
            raise Conflict(f"pipeline run {run.id} failed at {where} (see: slipway pipelines show {run.id})")
        gate = run.step("evaluate_and_bless").details.get("gate")
        if gate:
            metrics = gate.get("candidate_metrics", {})
            shown = ", ".join(f"{k} {metrics[k]:.3f}" for k in ("recall", "f1", "roc_auc") if k in metrics)
            self.info(f"held-out week: {shown}")
            (self.ok if gate.get("blessed") else self.refused)(f"gate: {gate.get('reason')}")
        for step in run.steps:
            if step.status == "SKIPPED":
                self.info(f"{step.key} skipped: {step.details.get('skipped', 'condition not met')}")


def inspect_commands(outcome: Outcome) -> list[tuple[str, str]]:
    """(command, what it shows) for each stage of the example."""
    champion = outcome.champion or f"{MODEL}@champion"
    last_run = outcome.runs[-1] if outcome.runs else "RUN_ID"
    return [
        (f"slipway data ls {DATASET}", "the dataset versions (one per weekly drop)"),
        (f"slipway data diff {DATASET}@1 {DATASET}@2", "what the new week changed"),
        ("slipway pipelines ls", "pipeline runs, manual and triggered"),
        (f"slipway pipelines show {last_run}", "steps, cache hits, the gate's verdict"),
        ("slipway runs search \"metrics.f1 > 0.5\" --experiment predictive-maintenance",
         "training runs: params, metrics, inputs"),
        (f"slipway models versions {MODEL}", "registered versions, states and aliases"),
        (f"slipway governance card {champion}", "the model card"),
        (f"slipway lineage {champion} --up", "data -> runs -> model"),
        (f"slipway deploy history {DEPLOYMENT}", "every canary decision, with its numbers"),
        ("slipway audit log --action 'deployment.canary.*'", "the canary controller's steps, audited"),
        ("slipway audit log --action 'approval.*'", "who requested and who approved"),
        ("slipway monitors history maintenance-inputs", "the monitor's runs over each week"),
        ("slipway alerts ls", "the alerts it opened, acknowledged, resolved"),
        (f"slipway diagnose {DEPLOYMENT} --window 1000", "why the served model got worse, and what to do"),
        ("slipway audit log --action 'monitor.*'", "every monitor run, action and diagnosis, with its numbers"),
        ("slipway audit verify", "prove the ledger was not rewritten"),
    ]


def print_summary(outcome: Outcome, console: Console) -> None:
    """What happened, and the commands to look around with."""
    console.print(f"\n[bold green]Done[/] in {outcome.seconds:.0f} s: {MODEL}@champion is [bold]{outcome.champion}[/]; "
                  f"the retrained canary was [bold]{outcome.verdict}[/]; {outcome.audit_events:,} audit events verified.",
                  highlight=False, soft_wrap=True)
    for line in outcome.loop:
        console.print(f"  {line}", highlight=False, soft_wrap=True, markup=False)
    if outcome.server is not None:
        console.print(f"Inference server: {outcome.server.url} (/v2/models/{DEPLOYMENT}/infer, /invocations, /metrics)",
                      highlight=False)
    console.print("\nLook around (in this shell first):", highlight=False)
    console.print(f"  export SLIPWAY_HOME={outcome.home} SLIPWAY_CONFIG={outcome.config}", highlight=False,
                  soft_wrap=True)
    width = max(len(command) for command, _ in inspect_commands(outcome))
    for command, what in inspect_commands(outcome):
        console.print(f"  {command.ljust(width)}  [dim]# {what}[/]", highlight=False, soft_wrap=True)
