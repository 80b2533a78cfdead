"""``slipway pipelines …``: run, list, show, logs, resume, cancel; schedules and triggers (in
:mod:`slipway.cli.pipelines_schedules`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, fail, print_json, show
from slipway.cli.pipelines_schedules import ParamOption, RunnerOption, parse_params
from slipway.cli.pipelines_schedules import register as register_schedules
from slipway.core.clock import iso

app = typer.Typer(help="Pipelines: run them, inspect runs and their steps, schedule them.", no_args_is_help=True)

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
    result = workspace().pipelines.run(ref, parse_params(param), runner=runner)
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
              status: str = typer.Option(None, help="QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED."),
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


@app.command("cancel")
def cancel(run_id: str, as_json: bool = JsonOption) -> None:
    """Cancel a queued or running pipeline run (a running one stops at its next step boundary)."""
    _show_run(workspace().pipelines.cancel(run_id), as_json)


@app.command("compile")
def compile_pipeline(
    ref: str = typer.Argument(..., help="path/to/file.py:pipeline_name or package.module:pipeline_name"),
    target: str = typer.Option(..., "--target", "-t", help="kubeflow (a KFP v2 pipeline spec) or argo (a Workflow)."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the YAML here (default: standard output)."),
    param: list[str] = ParamOption,
    image: str = typer.Option(None, "--image", help="The image the steps run in (default: the platform image "
                              "`slipway build` makes; give a model's image for steps that need its packages)."),
) -> None:
    """Compile a pipeline for Kubeflow Pipelines or Argo Workflows: each step runs in a container
    with `slipway pipelines run-step`; the source is stored so the containers load it."""
    from slipway.deploy.image import image_name, image_requirements

    text = workspace().pipelines.compile(ref, target, parse_params(param),
                                         image=image or image_name(image_requirements([])))
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    console.print(f"wrote {output} ({target})", highlight=False)


@app.command("run-step")
def run_step(
    ref: str = typer.Argument(..., help="The pipeline (a stored reference in compiled specs)."),
    step: str = typer.Argument(None, help="The step key to execute (omit with --start or --finish)."),
    run_id: str = typer.Option(None, "--run-id", help="The pipeline run (from --start)."),
    start: bool = typer.Option(False, "--start", help="Record a new run for the orchestrator and print its id."),
    finish: bool = typer.Option(False, "--finish", help="End the run: SUCCEEDED, or FAILED if a step failed."),
    runner: str = typer.Option("kubeflow", "--runner", help="With --start: kubeflow or argo."),
    run_id_file: Path = typer.Option(None, "--run-id-file", help="With --start: also write the run id here."),
    param: list[str] = ParamOption,
) -> None:
    """Internal: what the containers of a compiled pipeline run (one step of a run per call).
    Exits 1 when the step failed (the orchestrator retries it if the step has retries left)."""
    ws = workspace()
    if start:
        if step is not None or run_id is not None:
            fail("--start takes the pipeline and its parameters, not a step or --run-id")
        run = ws.pipelines.start_external(ref, parse_params(param), runner=runner)
        if run_id_file is not None:
            run_id_file.parent.mkdir(parents=True, exist_ok=True)
            run_id_file.write_text(run.id, encoding="utf-8")
        sys.stdout.write(run.id + "\n")
        return
    if run_id is None:
        fail("--run-id is required (the id --start printed)")
    if param:
        fail("-p goes with --start; a step reads the run's parameters")
    if finish:
        if not run_id:
            console.print("no pipeline run to finish (its start failed)", highlight=False)
            return
        if step is not None:
            fail("--finish takes no step")
        ended = ws.pipelines.finish_external(run_id)
        console.print(f"pipeline run {ended.id}: {ended.status}" + (f" ({ended.error})" if ended.error else ""),
                      highlight=False)
        return  # the run's status is recorded; the exit handler itself succeeded
    if step is None:
        fail("give the step to run, or --start / --finish")
    recorded = ws.pipelines.run_step(run_id, step)
    console.print(f"step {recorded.key} of pipeline run {run_id}: {recorded.status}"
                  + (f" (attempt {recorded.attempts}: {recorded.error})" if recorded.error else ""), highlight=False)
    if recorded.status not in ("SUCCEEDED", "CACHED", "SKIPPED"):
        sys.exit(1)


register_schedules(app)
