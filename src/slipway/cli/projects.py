"""``slipway projects create|ls``: the projects product teams own (``slipway users bind`` grants
roles in one)."""

from __future__ import annotations

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, print_json, show
from slipway.core.clock import iso

app = typer.Typer(help="Projects: what a team owns (experiments, datasets, models, deployments, monitors).",
                  no_args_is_help=True)


@app.command("create")
def create(name: str, description: str = typer.Option("", "--description", "-d"), as_json: bool = JsonOption) -> None:
    """Create a project (global admin)."""
    project = workspace().identity.create_project(name, description)
    print_json(project) if as_json else console.print(f"Created project {project.name}")


@app.command("ls")
def list_projects(as_json: bool = JsonOption) -> None:
    """Every project."""
    found = workspace().identity.list_projects()
    rows = [(p.name, p.description, p.created_by, iso(p.created_ms)) for p in found]
    show(found, as_json, "Projects", ["name", "description", "created by", "created"], rows)
