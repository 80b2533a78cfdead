"""``slipway experiments ls|create``."""

from __future__ import annotations

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, print_json, show
from slipway.core.clock import iso

app = typer.Typer(help="Experiments: named groups of runs.", no_args_is_help=True)


@app.command("ls")
def list_experiments(as_json: bool = JsonOption) -> None:
    """List experiments, oldest first."""
    found = workspace().tracking.list_experiments()
    rows = [(e.name, e.id, e.lifecycle, iso(e.created_ms), e.description) for e in found]
    show(found, as_json, "Experiments", ["name", "id", "lifecycle", "created", "description"], rows)


@app.command("create")
def create_experiment(
    name: str = typer.Argument(..., help="Letters, digits, '_', '.', '-'."),
    description: str = typer.Option("", "--description", "-d", help="What the experiment is for."),
    as_json: bool = JsonOption,
) -> None:
    """Create an experiment (AlreadyExists if the name is taken)."""
    created = workspace().tracking.create_experiment(name, description)
    if as_json:
        print_json(created)
    else:
        console.print(f"Created experiment {created.name} ({created.id})")
