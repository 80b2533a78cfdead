"""``slipway pipelines …``: run, list, show, logs, resume; schedules and triggers."""

from __future__ import annotations

import sys
from typing import Any

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, fail, print_json, show
from slipway.core.clock import iso

app = typer.Typer(help="Pipelines: run them, inspect runs and their steps, schedule them.", no_args_is_help=True)

RunnerOption = typer.Option("inprocess", "--runner", "-r", help="inprocess, process (a process pool) or ray.")
ParamOption = typer.Option(None, "--param", "-p", help="Override a pipeline parameter: -p key=value (repeatable).")


def _params(items: list[str] | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"parameter {item!r} must look like key=value")
        params[key.strip()] = value
    return params


def _duration(ms: int | None) -> str:
    return "" if ms is None else f"{ms / 1000:.2f}s"


def _show_run(run: Any, as_json: bool) -> None:
    if as_json:
        print_json(run)
        return
    reason = run.reason or {}
    why = reason.get("kind", "manual")
    if reason.get("name"):
        why += f" {reason['name']} ({reason.get('event')})"
    if reason.get("run"):
        why += f" of {reason['run']}"
    console.print(f"[bold]{run.pipeline}[/] run {run.id}: [bold]{run.status}[/] ({run.runner}; started by {why}; "
                  f"params {run.params})", highlight=False)
    rows = []
    for step in run.steps:
        note = step.error or step.details.get("skipped") or ""
        gate = step.details.get("gate")
        if gate and not note:
            note = gate.get("reason", "")
        rows.append([step.key, step.status, "yes" if step.cached else "", step.attempts,
                     _duration(step.duration_ms), note[:200]])
    show(run, False, "steps", ["step", "status", "cached", "attempts", "time", "note"], rows)
    if run.error:
        console.print(f"[red]error:[/] {run.error}", highlight=False)


@app.command("run")
def run_pipeline(
    ref: str = typer.Argument(..., help="path/to/file.py:pipeline_name or package.module:pipeline_name"),
    param: list[str] = ParamOption,
    runner: str = RunnerOption,
    as_json: bool = JsonOption,
) -> None:
    """Run a pipeline; exits 1 if the run fails (its steps and errors are shown)."""
    result = workspace().pipelines.run(ref, _params(param), runner=runner)
    _show_run(result, as_json)
    if result.status != "SUCCEEDED":
        sys.exit(1)


@app.command("resume")
def resume(run_id: str, runner: str = typer.Option(None, "--runner", "-r", help="Default: the run's runner."),
           as_json: bool = JsonOption) -> None:
    """Run a failed run again from its failed step; completed steps are reused."""
    result = workspace().pipelines.resume(run_id, runner=runner)
    _show_run(result, as_json)
    if result.status != "SUCCEEDED":
        sys.exit(1)


@app.command("ls")
def list_runs(pipeline: str = typer.Option(None, help="Only runs of this pipeline."),
              status: str = typer.Option(None, help="QUEUED, RUNNING, SUCCEEDED or FAILED."),
              limit: int = typer.Option(50, help="At most this many runs, newest first."),
              as_json: bool = JsonOption) -> None:
    """List pipeline runs, newest first."""
    runs = workspace().pipelines.list_runs(pipeline, status, limit)
    rows = [[r.id, r.pipeline, r.status, r.runner, iso(r.created_ms), _duration((r.end_ms or 0) - r.start_ms if r.end_ms and r.start_ms else None),
             len(r.executed), len(r.cached), r.reason.get("kind", "")] for r in runs]
    show(runs, as_json, "pipeline runs", ["id", "pipeline", "status", "runner", "created", "time", "ran", "cached", "why"], rows)


@app.command("show")
def show_run(run_id: str, as_json: bool = JsonOption) -> None:
    """A run and its steps: status, cache hits, attempts, timings, errors, gate verdicts."""
    _show_run(workspace().pipelines.get_run(run_id), as_json)


@app.command("logs")
def logs(run_id: str, step: str = typer.Option(None, "--step", "-s", help="Only this step."),
         as_json: bool = JsonOption) -> None:
    """Captured stdout, stderr and logging of a run's steps."""
    found = workspace().pipelines.logs(run_id, step)
    if as_json:
        print_json(found)
        return
    for key, text in found.items():
        console.print(f"[bold]== {key}[/]", highlight=False)
        if text:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            sys.stdout.flush()


@app.command("schedule")
def schedule(name: str, ref: str = typer.Argument(..., help="file.py:pipeline or module:pipeline"),
             cron: str = typer.Option(..., help="Cron expression in UTC, e.g. '0 3 * * *'."),
             param: list[str] = ParamOption, runner: str = RunnerOption,
             catchup: bool = typer.Option(False, help="Run every firing missed while no scheduler ran."),
             as_json: bool = JsonOption) -> None:
    """Run a pipeline on a cron schedule (fired by `slipway scheduler`)."""
    created = workspace().pipelines.schedule(name, ref, cron, _params(param), runner, catchup)
    show(created, as_json, "schedule", ["name", "pipeline", "cron"], [[created.name, created.pipeline, created.cron]])


@app.command("trigger")
def trigger(name: str, ref: str = typer.Argument(..., help="file.py:pipeline or module:pipeline"),
            dataset: str = typer.Option(..., help="Run once per new version of this dataset."),
            param: list[str] = ParamOption,
            dataset_param: str = typer.Option("dataset", help="The pipeline parameter that receives 'name@version'."),
            runner: str = RunnerOption, as_json: bool = JsonOption) -> None:
    """Run a pipeline on every new version of a dataset (fired by `slipway scheduler`)."""
    created = workspace().pipelines.on_dataset(name, dataset, ref, _params(param), dataset_param, runner)
    show(created, as_json, "trigger", ["name", "dataset", "pipeline", "after version"],
         [[created.name, created.target, created.pipeline, created.baseline]])


@app.command("schedules")
def schedules(as_json: bool = JsonOption) -> None:
    """Schedules and triggers."""
    ws = workspace().pipelines
    items = {"schedules": ws.list_schedules(), "triggers": ws.list_triggers()}
    rows = [[s.name, "cron", s.cron, s.pipeline] for s in items["schedules"]]
    rows += [[t.name, t.kind, t.target, t.pipeline] for t in items["triggers"]]
    show(items, as_json, "schedules and triggers", ["name", "kind", "when", "pipeline"], rows)
