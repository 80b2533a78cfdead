"""``slipway lineage REF --up|--down``: where something came from, or what came from it."""

from __future__ import annotations

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, print_json, say

app = typer.Typer(help="Lineage: dataset version -> run -> model version -> deployment, and back.",
                  invoke_without_command=True, no_args_is_help=True,
                  context_settings={"allow_interspersed_args": True})


@app.callback()
def lineage(
    ref: str = typer.Argument(..., help="dataset:NAME@V, run:ID, model:NAME/V (or NAME/V), deployment:NAME"),
    up: bool = typer.Option(False, "--up", help="What it came from (the default)."),
    down: bool = typer.Option(False, "--down", help="What came from it."),
    depth: int = typer.Option(25, "--depth", min=1, max=100),
    as_json: bool = JsonOption,
) -> None:
    """Walk the lineage graph from REF."""
    from slipway.cli.output import fail
    from slipway.core.errors import InvalidInput

    if up and down:
        fail(InvalidInput("choose one of --up or --down"))
    service = workspace().lineage
    graph = service.downstream(ref, depth) if down else service.upstream(ref, depth)
    if as_json:
        print_json(graph)
        return
    arrow = "<-" if graph.direction == "up" else "->"
    say(f"{graph.root.kind}:{graph.root.id}")
    printed = set()
    for edge in graph.edges:
        near, far = ((f"{edge.dst_kind}:{edge.dst_id}", f"{edge.src_kind}:{edge.src_id}") if graph.direction == "up"
                     else (f"{edge.src_kind}:{edge.src_id}", f"{edge.dst_kind}:{edge.dst_id}"))
        line = f"  {near} {arrow}[{edge.relation}]{arrow} {far}"
        if line not in printed:  # the same edge reached by two paths is printed once
            printed.add(line)
            say(line)
    if not graph.edges:
        say("  (no lineage recorded)")
    if graph.truncated:
        say(f"  … truncated at depth {depth}")
    if graph.hidden:
        say(f"  … and what is in project(s) {', '.join(graph.hidden)}, which you may not read (left out)")
