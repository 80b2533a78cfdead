"""``slipway audit log|verify``: read the audit ledger and prove it was not rewritten.

(Governance adds ``slipway audit at TIME`` to this group.)
"""

from __future__ import annotations

import orjson
import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, err_console, print_json, show
from slipway.core.clock import iso


def _when(ms: int | None) -> str:
    """A compact UTC time for tables (``--json`` keeps the epoch milliseconds)."""
    return iso(ms)[:19].replace("T", " ")


app = typer.Typer(help="The hash-chained audit ledger.", no_args_is_help=True)


@app.command("log")
def audit_log(
    subject: str = typer.Option(None, "--subject", help="KIND or KIND:ID, e.g. run:0a1b2c…"),
    action: str = typer.Option(None, "--action", help="An action, '*' wildcards allowed, e.g. 'run.*'."),
    since: str = typer.Option(None, "--since", help="ISO 8601 time or epoch milliseconds."),
    until: str = typer.Option(None, "--until", help="ISO 8601 time or epoch milliseconds."),
    limit: int = typer.Option(50, "--limit", min=1, max=100_000, help="At most this many events."),
    as_json: bool = JsonOption,
) -> None:
    """Audit events, newest first."""
    events = workspace().audit.log(subject=subject, action=action, since=since, until=until, limit=limit)
    rows = [
        (e.seq, _when(e.ts), e.actor, e.action, f"{e.subject_kind}:{e.subject_id}",
         orjson.dumps(e.details).decode()[:120])
        for e in events
    ]
    show(events, as_json, "Audit log", ["seq", "time", "actor", "action", "subject", "details"], rows)


@app.command("verify")
def audit_verify(as_json: bool = JsonOption) -> None:
    """Walk the whole hash chain. Exit code 1, naming the first bad event, if it was tampered with."""
    verdict = workspace().audit.verify()
    if as_json:
        print_json(verdict)
    elif verdict.ok:
        console.print(f"[green]ok[/]: {verdict.events} events, the chain is intact")
    else:
        err_console.print(f"[bold red]audit verification failed[/] at event {verdict.first_bad_seq}: {verdict.reason}",
                          highlight=False, soft_wrap=True)
    if not verdict.ok:
        raise typer.Exit(1)


@app.command("at")
def audit_at(
    when: str = typer.Argument(..., help="ISO 8601 time (UTC unless an offset is given) or epoch milliseconds."),
    model: str = typer.Option(None, "--model", help="Only this model's aliases."),
    as_json: bool = JsonOption,
) -> None:
    """Which version held each alias at a past time, replayed from the audit ledger."""
    holders = workspace().governance.aliases_at(when, model)
    rows = [(h["model"], h["alias"], h["version"], h["set_by"], iso(h["since_ms"])) for h in holders]
    show(holders, as_json, f"Aliases at {when}", ["model", "alias", "version", "set by", "since"], rows)
