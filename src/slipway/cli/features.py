"""``slipway features``: definitions as code (plan/apply), training sets, materialisation, lookups."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, print_json, print_table, say, show
from slipway.core.clock import iso, now_ms

app = typer.Typer(help="Feature store: definitions, training sets, online features.", no_args_is_help=True)
FolderArgument = typer.Argument(Path("."), help="The feature repository folder (*.py and *.yaml definitions).")
PruneOption = typer.Option(False, "--prune", help="Remove stored definitions that are not in the folder.")


def _print_plan(plan: object, as_json: bool) -> None:
    if as_json:
        print_json(plan)
        return
    changes = [c for c in plan.changes if c.action != "unchanged"]  # type: ignore[attr-defined]
    rows = [[c.action, c.kind, c.name, "" if c.previous is None else c.previous, "" if c.version is None else c.version,
             ", ".join(c.fields)] for c in changes]
    print_table("plan" if not plan.applied else "applied", ["change", "kind", "name", "from", "to", "fields"], rows)  # type: ignore[attr-defined]
    pending = len(plan.pending)  # type: ignore[attr-defined]
    unchanged = sum(c.action == "unchanged" for c in plan.changes)  # type: ignore[attr-defined]
    verb = "applied" if plan.applied else "to apply"  # type: ignore[attr-defined]
    say(f"{pending} change(s) {verb}, {unchanged} unchanged")


@app.command()
def plan(folder: Path = FolderArgument, prune: bool = PruneOption, as_json: bool = JsonOption) -> None:
    """Show what apply would add, change (new version or in place) or remove; changes nothing."""
    _print_plan(workspace().features.plan(folder, prune), as_json)


@app.command()
def apply(folder: Path = FolderArgument, prune: bool = PruneOption, as_json: bool = JsonOption) -> None:
    """Store the folder's definitions: all of them, or nothing if one is bad."""
    _print_plan(workspace().features.apply(folder, prune), as_json)


def _age(ms: int | None) -> str:
    if ms is None:
        return "never"
    seconds = max(0, (now_ms() - ms) // 1000)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@app.command("ls")
def list_views(as_json: bool = JsonOption) -> None:
    """Feature views with their online freshness (stale: older than the TTL or never materialised)."""
    items = workspace().features.status()
    show(items, as_json, "feature views", ["name", "version", "entities", "features", "ttl", "owner", "materialised to",
                                           "age", "schedule", "stale"],
         [[v.name, v.version, ", ".join(v.entities), v.features, "" if v.ttl_seconds is None else f"{v.ttl_seconds}s",
           v.owner, iso(v.watermark_ms), _age(v.watermark_ms), v.schedule or "", "STALE" if v.stale else ""]
          for v in items])


@app.command("profile")
def profile(view: str, as_json: bool = JsonOption) -> None:
    """The data profile of what the latest materialisation of VIEW wrote."""
    found = workspace().features.profile(view)
    if as_json:
        print_json(found)
        return
    if not found:
        say(f"{view}: not materialised yet (no profile)")
        return
    say(f"{view}@{found['view_version']}: {found['rows']} keys written up to {iso(found['watermark_ms'])}")
    rows = []
    for name, column in found["columns"].items():
        spread = (f"{column['min']} .. {column['max']} (mean {column['mean']})" if column.get("mean") is not None else
                  ", ".join(f"{v} ({n})" for v, n in column.get("top", [])[:3]))
        rows.append([name, column["type"], column["count"], column["nulls"], column["distinct"], spread])
    show(rows, False, "columns", ["column", "type", "count", "nulls", "distinct", "range / top"], rows)


@app.command("definitions")
def list_definitions(kind: str = typer.Option(None, "--kind", help="entity, feature_view, on_demand_view or feature_service."),
                     history: bool = typer.Option(False, "--history", help="Every version, removed ones too."),
                     as_json: bool = JsonOption) -> None:
    """Stored definitions."""
    items = workspace().features.definitions(kind, history)
    show(items, as_json, "definitions", ["kind", "name", "version", "current", "owner", "updated"],
         [[d.kind, d.name, d.version, "yes" if d.current else "no", d.spec.get("owner", ""), iso(d.updated_ms)]
          for d in items])


@app.command("show")
def show_definition(kind: str, name: str, version: int = typer.Option(None, "--version"), as_json: bool = JsonOption) -> None:
    """One definition (KIND: entity, feature_view, on_demand_view, feature_service)."""
    definition = workspace().features.get(kind, name, version)
    if as_json:
        print_json(definition)
        return
    say(f"{definition.kind} {definition.ref}{'' if definition.current else ' (not current)'}")
    say(orjson.dumps(definition.spec, option=orjson.OPT_INDENT_2).decode())


@app.command("training-set")
def training_set(features: str = typer.Argument(..., help="A feature service, or VIEW[:FEATURE],… separated by commas."),
                 entities: str = typer.Argument(..., help="The entity table: a Parquet/CSV file or a dataset name@version."),
                 name: str = typer.Option(None, "--name", help="The dataset to store it as (a service's default: SERVICE-training)."),
                 timestamp: str = typer.Option("event_timestamp", "--timestamp", help="The entity table's time column."),
                 created_before_row: bool = typer.Option(False, "--created-before-row",
                                                         help="Only feature rows created at or before the row's time."),
                 as_json: bool = JsonOption) -> None:
    """Build a point-in-time correct training set and store it as a dataset version with lineage."""
    ws = workspace()
    result = ws.features.training_set(_selected(features), entities, name=name, timestamp=timestamp,
                                      created_before_row=created_before_row)
    if as_json:
        print_json(result.version)
        return
    version = result.version
    say(f"training set {version.ref}: {version.rows} rows" if version else f"{result.num_rows} rows (not stored)")


def _selected(features: str) -> str | list[str]:
    """One name (a service or a view) as it is; several, comma-separated, as a list."""
    return features.split(",") if "," in features else features


@app.command()
def materialize(views: list[str] = typer.Argument(None, help="Views to materialise (default: every online view)."),
                end: str = typer.Option(None, "--end", help="Up to this event time (ISO 8601; default now)."),
                full: bool = typer.Option(False, "--full", help="From the beginning, not from the stored watermark."),
                incremental: bool = typer.Option(True, "--incremental/--no-incremental", hidden=True),
                chunk_rows: int = typer.Option(50_000, "--chunk-rows", help="Keys written per atomic chunk."),
                as_json: bool = JsonOption) -> None:
    """Write each view's latest values into the online store, from its watermark (incremental) on."""
    runs = workspace().features.materialize(views or None, end=end, incremental=incremental and not full,
                                            chunk_rows=chunk_rows)
    if as_json:
        print_json(runs)
        return
    for run in runs:
        again = " (resumed an interrupted run)" if run.resumed else ""
        say(f"{run.view}@{run.view_version}: {run.rows} keys written up to {iso(run.end_ms)}{again}")


@app.command()
def online(features: str = typer.Argument(..., help="A feature service, or VIEW[:FEATURE],… separated by commas."),
           entity: list[str] = typer.Option(..., "--entity", "-e", help='Keys as JSON, e.g. \'{"customer_id": 7}\' (repeatable).'),
           as_json: bool = JsonOption) -> None:
    """Look features up in the online store, with each value's status."""
    from slipway.core.errors import InvalidInput

    try:
        rows = [orjson.loads(e) for e in entity]
    except orjson.JSONDecodeError as err:
        raise InvalidInput(f"--entity must be a JSON object: {err}") from None
    result = workspace().features.online(_selected(features), rows)
    if as_json:
        print_json(result)
        return
    print_table("online features", ["entity", *result.features],
                [[orjson.dumps(e).decode(), *(f"{result.values[f][i]} ({result.status[f][i]})" for f in result.features)]
                 for i, e in enumerate(result.entities)])


@app.command()
def impact(view: str, as_json: bool = JsonOption) -> None:
    """What changing VIEW would affect: training sets, runs, model versions, deployments."""
    found = workspace().features.impact(view)
    if as_json:
        print_json(found)
        return
    if not found:
        say(f"nothing uses feature view {view} yet")
    for kind, ids in sorted(found.items()):
        say(f"{kind}: {', '.join(ids)}")


@app.command()
def serve(host: str = typer.Option("127.0.0.1", "--host"), port: int = typer.Option(6566, "--port")) -> None:
    """Serve online lookups (POST /online), on-demand views included, over this workspace."""
    from slipway.cli.listen import check_listen_address
    from slipway.core import fastpaths

    check_listen_address(host, port)
    ws = workspace()
    say(f"feature server on http://{host}:{port}/online")
    if fastpaths.enabled(ws.settings):
        from slipway.features.http_server import serve as serve_fast

        serve_fast(ws, host, port)
        return
    import uvicorn

    from slipway.features.http import create_app

    uvicorn.run(create_app(ws), host=host, port=port, log_level="warning", access_log=False)
