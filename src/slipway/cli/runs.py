"""``slipway runs ls|show|search|compare|delete|restore|reap|recover``."""

from __future__ import annotations

import math

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, err_console, print_json, print_table, show
from slipway.core.clock import iso
from slipway.tracking.records import Run, RunPage

app = typer.Typer(help="Runs: list, inspect, search, compare, delete, restore, reap and recover.",
                  no_args_is_help=True)

ExperimentOption = typer.Option(None, "--experiment", "-e", help="Only this experiment (name or id); repeatable.")
OrderOption = typer.Option(None, "--order-by", "-o", help="e.g. 'metrics.auc DESC'; repeatable.")
MaxOption = typer.Option(100, "--max-results", "-n", min=1, max=50_000, help="Page size.")
TokenOption = typer.Option(None, "--page-token", help="The next-page token a previous listing printed.")
DeletedOption = typer.Option(False, "--include-deleted", help="Also list soft-deleted runs.")


def _when(ms: int | None) -> str:
    """A compact UTC time for tables (``--json`` keeps the epoch milliseconds)."""
    return iso(ms)[:19].replace("T", " ")


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return "NaN" if math.isnan(value) else f"{value:.6g}"


def _print_page(page: RunPage, as_json: bool, title: str) -> None:
    # The columns show the latest value of the first few metric keys, the way MLflow's table does.
    keys = sorted({k for run in page.runs for k in run.metrics})[:4]
    rows = [
        (r.id, r.name, r.status, _when(r.start_ms), *(_number(r.metrics.get(k)) for k in keys))
        for r in page.runs
    ]
    # --json prints a list, as every listing does; the next page's token goes to stderr.
    show(list(page.runs), as_json, title, ["id", "name", "status", "started", *keys], rows)
    if page.next_token:
        (err_console if as_json else console).print(f"more runs: --page-token {page.next_token}", highlight=False)


@app.command("ls")
def list_runs(
    experiment: list[str] = ExperimentOption, order_by: list[str] = OrderOption, max_results: int = MaxOption,
    page_token: str = TokenOption, include_deleted: bool = DeletedOption, as_json: bool = JsonOption,
) -> None:
    """List runs, newest first."""
    page = workspace().tracking.search_runs("", experiment or None, order_by or None, max_results, page_token,
                                            include_deleted)
    _print_page(page, as_json, "Runs")


@app.command("search")
def search_runs(
    filter: str = typer.Argument(..., help="e.g. \"metrics.auc > 0.9 and params.model = 'rf'\""),
    experiment: list[str] = ExperimentOption, order_by: list[str] = OrderOption, max_results: int = MaxOption,
    page_token: str = TokenOption, include_deleted: bool = DeletedOption, as_json: bool = JsonOption,
) -> None:
    """Search runs with MLflow's filter syntax plus 'or' and parentheses."""
    page = workspace().tracking.search_runs(filter, experiment or None, order_by or None, max_results, page_token,
                                            include_deleted)
    _print_page(page, as_json, f"Runs matching {filter}")


def _show_run(run: Run) -> None:
    print_table(f"Run {run.name}", ["field", "value"], [
        ("id", run.id), ("experiment", run.experiment_id), ("status", run.status), ("lifecycle", run.lifecycle),
        ("started", _when(run.start_ms)), ("ended", _when(run.end_ms)), ("user", run.user),
        ("parent", run.parent_id), ("git commit", run.git_commit),
        ("git dirty", "" if run.git_dirty is None else str(run.git_dirty)), ("source", run.source),
        ("packages", run.packages_digest),
    ])
    if run.params:
        print_table("Params", ["key", "value"], sorted(run.params.items()))
    if run.metrics:
        print_table("Metrics (latest)", ["key", "value"], [(k, _number(v)) for k, v in sorted(run.metrics.items())])
    if run.tags:
        print_table("Tags", ["key", "value"], sorted(run.tags.items()))


@app.command("show")
def show_run(run_id: str = typer.Argument(..., help="The run id."), as_json: bool = JsonOption) -> None:
    """One run: its attributes, params, latest metrics, tags, artifacts and inputs."""
    tracking = workspace().tracking
    run = tracking.get_run(run_id)
    artifacts = tracking.list_artifacts(run_id)
    inputs = tracking.list_inputs(run_id)
    if as_json:
        print_json({"run": run, "artifacts": artifacts, "inputs": inputs})
        return
    _show_run(run)
    if artifacts:
        print_table("Artifacts", ["path", "kind", "size", "digest"], [(a.path, a.kind, a.size, a.digest) for a in artifacts])
    if inputs:
        print_table("Inputs", ["dataset", "version", "context", "digest"],
                    [(i.dataset, i.version, i.context, i.digest) for i in inputs])


@app.command("compare")
def compare_runs(
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids."), as_json: bool = JsonOption,
) -> None:
    """Params and latest metrics side by side; differing params are marked."""
    comparison = workspace().tracking.compare_runs(run_ids)
    if as_json:
        print_json(comparison)
        return
    columns = ["key", *[r[-8:] for r in comparison.run_ids]]
    differing = set(comparison.differing_params)
    rows = [(f"params.{k}{' *' if k in differing else ''}", *values) for k, values in comparison.params.items()]
    rows += [(f"metrics.{k}", *(_number(v) for v in values)) for k, values in comparison.metrics.items()]
    print_table("Comparison (* = params that differ)", columns, rows)


@app.command("delete")
def delete_run(run_id: str = typer.Argument(..., help="The run id."), as_json: bool = JsonOption) -> None:
    """Soft-delete a run (hidden from listings, restorable)."""
    run = workspace().tracking.delete_run(run_id)
    if as_json:
        print_json(run)
    else:
        console.print(f"Deleted run {run.name} ({run.id}); 'slipway runs restore {run.id}' brings it back")


@app.command("restore")
def restore_run(run_id: str = typer.Argument(..., help="The run id."), as_json: bool = JsonOption) -> None:
    """Restore a soft-deleted run."""
    run = workspace().tracking.restore_run(run_id)
    if as_json:
        print_json(run)
    else:
        console.print(f"Restored run {run.name} ({run.id})")


@app.command("reap")
def reap_runs(
    stale_seconds: float = typer.Option(None, "--stale-seconds", min=1,
                                        help="Silent for this long = dead (default: the run_stale_seconds setting)."),
    as_json: bool = JsonOption,
) -> None:
    """Mark FAILED the RUNNING runs whose process stopped sending heartbeats (it was killed)."""
    reaped = workspace().tracking.reap_stale_runs(stale_seconds)
    if as_json:
        print_json({"reaped": reaped})
    else:
        console.print(f"Marked {len(reaped)} run(s) of dead processes FAILED" + "".join(f"\n  {r}" for r in reaped))


@app.command("recover")
def recover_metrics(as_json: bool = JsonOption) -> None:
    """Write the metric points that killed processes spooled in durable mode (also done on open)."""
    report = workspace().tracking.recover_metrics()
    if as_json:
        print_json(report)
    else:
        console.print(f"Replayed {report.replayed} spooled point(s) from {report.files} file(s); "
                      f"{report.already_stored} were already stored")
