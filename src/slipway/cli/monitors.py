"""``slipway monitors``: drift and data quality against a reference; declarative monitors."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer
import yaml

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, err_console, print_json, print_table, say, show
from slipway.core.clock import iso
from slipway.core.records import as_plain

app = typer.Typer(help="Monitoring: drift and data quality against a reference.", no_args_is_help=True)


def _pairs(values: list[str]) -> dict[str, str]:
    """``NAME`` for every column, or ``COLUMN=NAME`` / ``numeric=NAME`` for some."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, name = value.rpartition("=")
        out[key if sep else "*"] = name
    return out


@contextlib.contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar on stderr (when it is a terminal) fed ``(done, total)``."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _save_html(path: Path | None, page: Callable[[], str]) -> None:
    """Write the HTML report when ``--html`` was given (to stderr, so ``--json`` stays pure)."""
    if path is not None:
        from slipway.monitoring.report_html import save

        err_console.print(f"report written to {save(path, page())}", markup=False, highlight=False)


@app.command()
def drift(reference: str = typer.Argument(..., help="A dataset (name@version), a Parquet/CSV file or deployment:NAME."),
          current: str = typer.Argument(..., help="The data to test, same forms as REFERENCE."),
          method: list[str] = typer.Option([], "--method", help="ks, or COLUMN=ks, or numeric=psi (repeatable)."),
          threshold: list[str] = typer.Option([], "--threshold", help="0.05, or COLUMN=0.05 (repeatable)."),
          correction: str = typer.Option(None, "--correction", help="bonferroni or bh."),
          html: Path = typer.Option(None, "--html", help="Also write a self-contained HTML report to this file."),
          as_json: bool = JsonOption) -> None:
    """Test every column of CURRENT against REFERENCE and print each column's verdict."""
    from slipway.core.errors import InvalidInput

    thresholds: dict[str, float] = {}
    for key, value in _pairs(threshold).items():
        try:
            thresholds[key] = float(value)
        except ValueError:
            raise InvalidInput(f"threshold {value!r} is not a number") from None
    with _progress("testing columns") as progress:
        report = workspace().monitoring.drift(reference, current, method=_pairs(method), threshold=thresholds,
                                              correction=correction, progress=progress)
    _save_html(html, lambda: report.to_html(f"Drift: {current} against {reference}"))
    if as_json:
        print_json(report.to_json())
        return
    rows = [[c.column, c.method, f"{c.score:.4g}", f"{c.threshold:g}", "DRIFT" if c.drifted else "ok", c.reason]
            for c in report.columns]
    print_table("drift", ["column", "method", "score", "threshold", "verdict", "why"], rows)
    say(f"{len(report.drifted_columns)} of {len(report.columns)} columns drifted ({report.share_drifted:.0%}); "
        f"dataset drift: {'yes' if report.dataset_drift else 'no'}")


@app.command()
def quality(reference: str = typer.Argument(..., help="Same forms as for drift."),
            current: str = typer.Argument(..., help="Same forms as for drift."),
            html: Path = typer.Option(None, "--html", help="Also write a self-contained HTML report to this file."),
            key: str = typer.Option(None, "--key", help="The reference rows' id column, carried by the current "
                                    "rows too: also report training-serving skew per column."),
            as_json: bool = JsonOption) -> None:
    """Schema changes, nulls, out-of-range, new categories, constant and zeroed columns (and
    training-serving skew with --key)."""
    report = workspace().monitoring.quality(reference, current, key)
    _save_html(html, lambda: report.to_html(f"Data quality: {current} against {reference}"))
    if as_json:
        print_json(report.to_json())
        return
    print_table("quality", ["kind", "column", "severity", "share", "detail"],
                [[f.kind, f.column or "", f.severity, "" if f.share is None else f"{f.share:.2%}", f.detail]
                 for f in report.findings])
    if report.skew is not None:
        print_table(f"training-serving skew ({report.skew.joined_rows} of {report.skew.served_rows} rows joined on "
                    f"{report.skew.key})", ["column", "mismatched", "share", "largest difference"],
                    [[c.column, str(c.mismatched), f"{c.share:.2%}",
                      "" if c.max_abs_diff is None else f"{c.max_abs_diff:.4g}"] for c in report.skew.columns])
    say("quality: ok" if report.ok else "quality: errors found")


@app.command("apply")
def apply_monitor(spec: Path = typer.Argument(..., help="A monitor YAML file."), as_json: bool = JsonOption) -> None:
    """Create or update a monitor; its checks are checked against its reference first."""
    monitor = workspace().monitoring.apply(spec)
    if as_json:
        print_json(as_plain(monitor))
        return
    say(f"monitor {monitor.name} (revision {monitor.revision}): watches {monitor.spec['watch']} "
        f"against {monitor.spec['reference']}")


@app.command("delete")
def delete_monitor(name: str, as_json: bool = JsonOption) -> None:
    """Stop a monitor: it no longer runs and its open alerts are resolved. Its runs and alerts stay;
    `slipway monitors apply` of a spec of the same name brings it back. Deleting a deleted monitor
    changes nothing."""
    monitor = workspace().monitoring.delete_monitor(name)
    if as_json:
        print_json(as_plain(monitor))
    else:
        say(f"monitor {monitor.name} deleted (revision {monitor.revision}): it no longer runs; its runs and "
                      f"alerts stay (`slipway monitors history {monitor.name}`)")


@app.command("ls")
def list_monitors(as_json: bool = JsonOption) -> None:
    """Every monitor."""
    items = workspace().monitoring.monitors()
    show(items, as_json, "monitors", ["name", "revision", "watch", "reference", "checks"],
         [[m.name, m.revision, m.spec["watch"], m.spec["reference"], ", ".join(c["name"] for c in m.spec["checks"])]
          for m in items])


@app.command("show")
def show_monitor(name: str, as_json: bool = JsonOption) -> None:
    """A monitor's spec and its latest run."""
    ws = workspace()
    monitor = ws.monitoring.get_monitor(name)
    runs = ws.monitoring.history(name, 1)
    if as_json:
        print_json({"monitor": as_plain(monitor), "latest_run": as_plain(runs[0]) if runs else None})
        return
    say(yaml.safe_dump(monitor.spec, sort_keys=False).rstrip())
    say(f"latest run: {runs[0].status} at {iso(runs[0].created_ms)}" if runs else "never run")


def _print_run(run: Any) -> None:
    rows = [[c["name"], c["type"], "passed" if c["passed"] else "FAILED", c["summary"]] for c in run.result["checks"]]
    print_table(f"run {run.id} ({run.result['rows']} rows)", ["check", "type", "outcome", "summary"], rows)
    again = "" if run.created else " (this window had already run: the stored result)"
    say(f"status: {run.status}{again}")


@app.command("run")
def run_monitor(name: str, as_json: bool = JsonOption) -> None:
    """Run a monitor over its current window; failing checks open (or repeat) alerts."""
    with _progress(f"reading the window of {name}") as progress:
        run = workspace().monitoring.run(name, progress=progress)
    if as_json:
        print_json(as_plain(run))
        return
    _print_run(run)


@app.command("history")
def history(name: str, limit: int = typer.Option(20, "--limit"), as_json: bool = JsonOption) -> None:
    """A monitor's runs, newest first."""
    runs = workspace().monitoring.history(name, limit)
    show(runs, as_json, f"runs of {name}", ["id", "at", "status", "rows", "failing"],
         [[r.id, iso(r.created_ms), r.status, r.result["rows"],
           ", ".join(c["name"] for c in r.result["checks"] if not c["passed"])] for r in runs])


from slipway.cli.monitors_performance import performance  # noqa: E402 - registered after the others

app.command("performance")(performance)
