"""The quickstart's closing words: what happened and where to look."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from slipway.quickstart.team import DATASET, DEPLOYMENT, MODEL

if TYPE_CHECKING:
    from slipway.quickstart.flow import Outcome


def inspect_commands(outcome: Outcome) -> list[tuple[str, str]]:
    """(command, what it shows) for each stage of the quickstart."""
    champion = outcome.champion or f"{MODEL}@champion"
    last_run = outcome.runs[-1] if outcome.runs else "RUN_ID"
    return [
        (f"slipway data ls {DATASET}", "the dataset versions (one per weekly drop)"),
        (f"slipway data diff {DATASET}@1 {DATASET}@2", "what the new week changed"),
        ("slipway pipelines ls", "pipeline runs, manual and triggered"),
        (f"slipway pipelines show {last_run}", "steps, cache hits, the gate's verdict"),
        ("slipway runs search \"metrics.f1 > 0.5\" --experiment predictive-maintenance", "training runs: params, metrics, inputs"),
        (f"slipway models versions {MODEL}", "registered versions, states and aliases"),
        (f"slipway governance card {champion}", "the model card"),
        (f"slipway lineage {champion} --up", "data -> runs -> model"),
        (f"slipway deploy history {DEPLOYMENT}", "every canary decision, with its numbers"),
        ("slipway audit log --action 'deployment.canary.*'", "the canary controller's steps, audited"),
        ("slipway audit log --action 'approval.*'", "who requested and who approved"),
        ("slipway audit verify", "prove the ledger was not rewritten"),
    ]


def print_summary(outcome: Outcome, console: Console) -> None:
    console.print(f"\n[bold green]Done[/] in {outcome.seconds:.0f} s: {MODEL}@champion is [bold]{outcome.champion}[/]; "
                  f"the retrained canary was [bold]{outcome.verdict}[/]; {outcome.audit_events:,} audit events verified.",
                  highlight=False, soft_wrap=True)
    if outcome.server is not None:
        console.print(f"Inference server: {outcome.server.url} (/v2/models/{DEPLOYMENT}/infer, /invocations, /metrics)",
                      highlight=False)
    console.print("\nLook around (in this shell first):", highlight=False)
    console.print(f"  export SLIPWAY_HOME={outcome.home} SLIPWAY_CONFIG={outcome.config}", highlight=False,
                  soft_wrap=True)
    width = max(len(command) for command, _ in inspect_commands(outcome))
    for command, what in inspect_commands(outcome):
        console.print(f"  {command.ljust(width)}  [dim]# {what}[/]", highlight=False, soft_wrap=True)
