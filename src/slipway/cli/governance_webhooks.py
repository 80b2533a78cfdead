"""``slipway governance webhooks add|ls|deliveries|dispatch``."""

from __future__ import annotations

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, print_json, show
from slipway.core.clock import iso

app = typer.Typer(help="Signed webhooks and their delivery log.", no_args_is_help=True)


@app.command("add")
def add(url: str, events: list[str] = typer.Option(..., "--event", "-e", help="Event type (repeatable) or '*'."),
        kind: str = typer.Option("generic", "--kind", help="generic or servicenow"),
        as_json: bool = JsonOption) -> None:
    """Subscribe a URL; prints the signing secret once."""
    added = workspace().governance.add_webhook(url, events, kind)
    if as_json:
        print_json(added)
    else:
        console.print(f"Webhook {added['webhook'].id} -> {url}\nsigning secret (shown once): {added['secret']}")


@app.command("ls")
def list_webhooks(as_json: bool = JsonOption) -> None:
    """Webhook subscriptions."""
    found = workspace().governance.list_webhooks()
    rows = [(w.id, w.url, w.kind, ", ".join(w.event_types), "yes" if w.active else "no") for w in found]
    show(found, as_json, "Webhooks", ["id", "url", "kind", "events", "active"], rows)


@app.command("deliveries")
def deliveries(webhook: str = typer.Option(None, "--webhook"), status: str = typer.Option(None, "--status"),
               limit: int = typer.Option(50, "--limit", min=1), as_json: bool = JsonOption) -> None:
    """The delivery log: status, attempts, last status code or error, next retry."""
    found = workspace().governance.deliveries(webhook, status, limit)
    rows = [(d.id, d.event_type, d.status, d.attempts, d.last_status_code or "", (d.last_error or "")[:60],
             iso(d.next_attempt_ms) if d.status == "pending" else "") for d in found]
    show(found, as_json, "Webhook deliveries", ["id", "event", "status", "attempts", "code", "error", "next retry"], rows)


@app.command("dispatch")
def dispatch(as_json: bool = JsonOption) -> None:
    """Send the deliveries that are due (the server does this in the background)."""
    summary = workspace().governance.dispatch()
    if as_json:
        print_json(summary)
    else:
        console.print(f"attempted {summary.attempted}: {summary.delivered} delivered, {summary.retrying} to retry, "
                      f"{summary.failed} failed")
