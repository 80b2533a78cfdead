"""What the quickstart prints: an overall progress bar, one line per thing that happened, and a
bar for the canary's traffic share while the controller steps it up."""

from __future__ import annotations

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
