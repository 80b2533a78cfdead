"""``slipway pipelines schedule|trigger|schedules|update|enable|disable|delete``.

Each schedule or trigger is checked as ``pipelines run`` checks a run (the pipeline resolves, the
parameters parse against it) and its source is stored, so the scheduler runs it from anywhere.
"""

from __future__ import annotations

from typing import Any

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, fail, show
from slipway.core.clock import iso

RunnerOption = typer.Option("inprocess", "--runner", "-r", help="inprocess, process (a process pool) or ray.")
ParamOption = typer.Option(None, "--param", "-p", help="Override a pipeline parameter: -p key=value (repeatable).")


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["key=value", …]`` as a dict (values stay text; the pipeline parses them)."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"parameter {item!r} must look like key=value")
        params[key.strip()] = value
    return params


def _describe(item: Any) -> list[Any]:
    """One row of the schedules table: name, kind, when, pipeline, state, next fire."""
    pipeline = item.origin or item.pipeline
    state = "enabled" if item.enabled else "disabled"
    if hasattr(item, "cron"):
        return [item.name, "cron", item.cron, pipeline, state, iso(item.next_fire_ms) if item.enabled else ""]
    after = f" after @{item.baseline}" if item.baseline is not None else ""
    when = f"new version of {item.target}{after}" if item.kind == "dataset" else f"alert of {item.target}"
    return [item.name, item.kind, when, pipeline, state, "on the next event" if item.enabled else ""]


COLUMNS = ["name", "kind", "when", "pipeline", "state", "next fire"]


def register(app: typer.Typer) -> None:
    @app.command("schedule")
    def schedule(name: str, ref: str = typer.Argument(..., help="file.py:pipeline or module:pipeline"),
                 cron: str = typer.Option(..., help="Cron expression in UTC, e.g. '0 3 * * *'."),
                 param: list[str] = ParamOption, runner: str = RunnerOption,
                 catchup: bool = typer.Option(False, help="Run every firing missed while no scheduler ran."),
                 as_json: bool = JsonOption) -> None:
        """Run a pipeline on a cron schedule (fired by `slipway scheduler`); its source is stored now."""
        created = workspace().pipelines.schedule(name, ref, cron, parse_params(param), runner, catchup)
        show(created, as_json, "schedule", COLUMNS, [_describe(created)])

    @app.command("trigger")
    def trigger(name: str, ref: str = typer.Argument(..., help="file.py:pipeline or module:pipeline"),
                dataset: str = typer.Option(..., help="Run once per new version of this dataset."),
                param: list[str] = ParamOption,
                dataset_param: str = typer.Option("dataset", help="The pipeline parameter that receives 'name@version'."),
                runner: str = RunnerOption, as_json: bool = JsonOption) -> None:
        """Run a pipeline on every new version of a dataset (fired by `slipway scheduler`)."""
        created = workspace().pipelines.on_dataset(name, dataset, ref, parse_params(param), dataset_param, runner)
        show(created, as_json, "trigger", COLUMNS, [_describe(created)])

    @app.command("schedules")
    def schedules(as_json: bool = JsonOption) -> None:
        """Schedules and triggers, with their state and next fire time."""
        ws = workspace().pipelines
        schedules, triggers = ws.list_schedules(), ws.list_triggers()
        items = {"schedules": schedules, "triggers": triggers}
        rows = [_describe(s) for s in schedules] + [_describe(t) for t in triggers]
        show(items, as_json, "schedules and triggers", COLUMNS, rows)

    @app.command("update")
    def update(name: str,
               ref: str = typer.Argument(None, help="A new pipeline (file.py:pipeline or module:pipeline)."),
               cron: str = typer.Option(None, help="A new cron expression (schedules)."),
               param: list[str] = typer.Option(None, "--param", "-p", help="Set a parameter: -p key=value (repeatable)."),
               unset: list[str] = typer.Option(None, "--unset", help="Remove a parameter (back to its default)."),
               runner: str = typer.Option(None, "--runner", "-r", help="inprocess, process or ray."),
               catchup: bool = typer.Option(None, "--catchup/--no-catchup", help="Run missed firings (schedules)."),
               as_json: bool = JsonOption) -> None:
        """Change a schedule or trigger; a new pipeline is checked and its source stored again."""
        ws = workspace().pipelines
        found = next((s for s in ws.list_schedules() if s.name == name), None)
        current = found or next((t for t in ws.list_triggers() if t.name == name), None)
        if current is None:
            fail(f"no schedule or trigger is named {name!r}; see 'slipway pipelines schedules'")
        params = None
        if param or unset:
            params = {k: v for k, v in current.params.items() if k not in (unset or [])}
            params.update(parse_params(param))
        if found is not None:
            changed = ws.update_schedule(name, ref, cron, params, runner, catchup)
        else:
            if cron is not None or catchup is not None:
                fail(f"{name!r} is a trigger: --cron and --catchup apply to schedules")
            changed = ws.update_trigger(name, ref, params, None, runner)
        show(changed, as_json, "updated", COLUMNS, [_describe(changed)])

    @app.command("disable")
    def disable(name: str, as_json: bool = JsonOption) -> None:
        """Stop a schedule or trigger from firing (until `enable`)."""
        changed = workspace().pipelines.disable(name)
        show(changed, as_json, "disabled", COLUMNS, [_describe(changed)])

    @app.command("enable")
    def enable(name: str, as_json: bool = JsonOption) -> None:
        """Let a schedule or trigger fire again, from now on (what passed while disabled does not fire)."""
        changed = workspace().pipelines.enable(name)
        show(changed, as_json, "enabled", COLUMNS, [_describe(changed)])

    @app.command("delete")
    def delete(name: str, as_json: bool = JsonOption) -> None:
        """Delete a schedule or trigger (its past runs stay)."""
        gone = workspace().pipelines.delete(name)
        show(gone, as_json, "deleted", COLUMNS, [_describe(gone)])
