"""``slipway alerts``: the alerts monitors opened; acknowledge and resolve them (audited)."""

from __future__ import annotations

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, print_json, say, show
from slipway.core.clock import iso
from slipway.core.records import as_plain

app = typer.Typer(help="Alerts from monitors: list, acknowledge, resolve.", no_args_is_help=True)


@app.command("ls")
def list_alerts(monitor: str = typer.Option(None, "--monitor"),
                state: str = typer.Option(None, "--state", help="open, acknowledged or resolved."),
                as_json: bool = JsonOption) -> None:
    """Alerts, newest first."""
    items = workspace().monitoring.alerts(monitor, state)
    show(items, as_json, "alerts", ["id", "monitor", "check", "state", "seen", "opened", "summary"],
         [[a.id, a.monitor, a.check_name, a.state, a.occurrences, iso(a.opened_ms), a.summary] for a in items])


@app.command("ack")
def acknowledge(alert_id: str, note: str = typer.Option("", "--note"), as_json: bool = JsonOption) -> None:
    """Acknowledge an open alert."""
    alert = workspace().monitoring.acknowledge(alert_id, note)
    if as_json:
        print_json(as_plain(alert))
        return
    say(f"alert {alert.id} ({alert.monitor}/{alert.check_name}) acknowledged")


@app.command("resolve")
def resolve(alert_id: str, note: str = typer.Option("", "--note"), as_json: bool = JsonOption) -> None:
    """Resolve an alert; the next failing run of its check opens a new one."""
    alert = workspace().monitoring.resolve(alert_id, note)
    if as_json:
        print_json(as_plain(alert))
        return
    say(f"alert {alert.id} ({alert.monitor}/{alert.check_name}) resolved")
