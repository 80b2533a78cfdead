"""``slipway import mlflow``: bring an MLflow store's history into Slipway."""

from __future__ import annotations

from typing import Any

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, err_console, print_json, print_table, say

app = typer.Typer(help="Import history from other systems.", no_args_is_help=True)


@app.command("mlflow")
def import_mlflow(
    uri: str = typer.Argument(..., help="MLflow's tracking URI: sqlite:///mlflow.db, postgresql://..., "
                             "http://mlflow:5000, or a file store (./mlruns or file:///path/to/mlruns)."),
    artifacts: str = typer.Option(None, "--artifacts", help="Where mlflow-artifacts: locations are: the MLflow "
                                  "server's URL or its --artifacts-destination folder (default: the server imported)."),
    token: str = typer.Option(None, "--token", envvar="MLFLOW_TRACKING_TOKEN", show_envvar=True,
                              help="A bearer token for the MLflow server."),
    as_json: bool = JsonOption,
) -> None:
    """Import experiments, runs (full metric history, params, tags, artifacts), registered models,
    versions and aliases. Runs already imported are skipped, so running it again imports what is new."""
    from slipway.importers.mlflow import import_mlflow as run_import

    summary = run_import(workspace(), uri, artifacts, token, progress=None if as_json else _progress)
    if as_json:
        print_json(summary.to_dict())
        return
    kinds = sorted(set(summary.imported) | set(summary.already))
    print_table(f"Imported from {summary.source}", ["object", "imported", "already imported"],
                [(k, summary.imported.get(k, 0), summary.already.get(k, 0)) for k in kinds])
    for item in summary.renamed:
        say(f"renamed {item['kind']} {item['from']!r} to {item['to']!r} (Slipway's naming rule)")
    for item in summary.skipped:
        say(f"skipped {item['kind']} {item['id']}: {item['reason']}")


def _progress(message: Any) -> None:
    err_console.print(message, markup=False, highlight=False)
