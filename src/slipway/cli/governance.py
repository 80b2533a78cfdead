"""``slipway governance …``: lifecycle, approvals, policies, fairness, model cards, webhooks."""

from __future__ import annotations

from pathlib import Path

import typer

from slipway.cli.context import workspace
from slipway.cli.governance_webhooks import app as webhooks_app
from slipway.cli.output import JsonOption, console, fail, print_json, show
from slipway.core.clock import iso
from slipway.core.errors import InvalidInput
from slipway.core.limits import whole_number

app = typer.Typer(help="Governance: lifecycle, approvals, policies, fairness, model cards, webhooks.",
                  no_args_is_help=True)
policy_app = typer.Typer(help="Policies as code (YAML).", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
tickets_app = typer.Typer(help="Ticketed sign-off: change requests in ServiceNow.", no_args_is_help=True)
app.add_typer(tickets_app, name="tickets")
app.add_typer(webhooks_app, name="webhooks")


def _print_request(request, as_json: bool) -> None:
    if as_json:
        print_json(request)
        return
    console.print(f"Request {request.id} for {request.model}/{request.version}: {request.status} "
                  f"({request.approvals}/{request.required} approvals)")
    if request.blocked_by:
        console.print(f"[yellow]blocked by policy:[/] {request.blocked_by}", highlight=False)


@app.command("status")
def status(ref: str = typer.Argument(..., help="NAME/VERSION or NAME@ALIAS"), as_json: bool = JsonOption) -> None:
    """A version's state, allowed next states, aliases, open approval request and last check."""
    found = workspace().governance.status(ref)
    last = found.last_check or {}
    rows = [("state", found.state), ("risk tier", found.risk_tier), ("owner", found.owner),
            ("allowed next", ", ".join(found.allowed_next) or "none"), ("aliases", ", ".join(found.aliases)),
            ("open request", found.open_request or ""),
            ("last check", f"{'passed' if last.get('passed') else 'failed'} for {last.get('target_state')}" if last else "")]
    show(found, as_json, f"{found.model}/{found.version}", ["field", "value"], rows)


@app.command("transition")
def transition(ref: str, to_state: str = typer.Argument(..., help="validated, deployed, retired, rejected, revoked"),
               reason: str = typer.Option("", "--reason", "-r"), as_json: bool = JsonOption) -> None:
    """Move a version to another state (checked against the allowed transitions and the policy)."""
    found = workspace().governance.transition(ref, to_state, reason)
    print_json(found) if as_json else console.print(f"{found.model}/{found.version} is now {found.state}")


@app.command("request")
def request(ref: str, reason: str = typer.Option(..., "--reason", "-r", help="Why it should be approved."),
            as_json: bool = JsonOption) -> None:
    """Request approval of a version (its policy, except the approvals count, must pass)."""
    _print_request(workspace().governance.request_approval(ref, reason), as_json)


@app.command("approve")
def approve(request_id: str, comment: str = typer.Option("", "--comment", "-c"), as_json: bool = JsonOption) -> None:
    """Approve a request (not your own)."""
    _print_request(workspace().governance.approve(request_id, comment), as_json)


@app.command("reject")
def reject(request_id: str, comment: str = typer.Option(..., "--comment", "-c", help="Why."),
           as_json: bool = JsonOption) -> None:
    """Reject a request; the version becomes rejected."""
    _print_request(workspace().governance.reject(request_id, comment), as_json)


@app.command("requests")
def requests(model: str = typer.Option(None, "--model"), status_: str = typer.Option(None, "--status"),
             as_json: bool = JsonOption) -> None:
    """Approval requests, newest first."""
    found = workspace().governance.list_requests(model, status_)
    rows = [(r.id, f"{r.model}/{r.version}", r.status, f"{r.approvals}/{r.required}", r.requested_by, iso(r.created_ms))
            for r in found]
    show(found, as_json, "Approval requests", ["id", "version", "status", "approvals", "requested by", "created"], rows)


@app.command("check")
def check(ref: str, target: str = typer.Option("approved", "--for", help="The state the check is for."),
          as_json: bool = JsonOption) -> None:
    """Evaluate the version's policy and store a signed result. Exit code 1 if it fails."""
    result = workspace().governance.check(ref, target)
    rows = [(o.requirement, "pass" if o.passed else "FAIL", o.detail) for o in result.outcomes]
    show(result, as_json, f"Policy {result.policy or '(none)'} for {result.model}/{result.version} -> {target}: "
         f"{'passed' if result.passed else 'FAILED'} (check {result.id})", ["requirement", "result", "detail"], rows)
    if not result.passed:
        raise typer.Exit(1)


@app.command("promote")
def promote(ref: str, alias: str, as_json: bool = JsonOption) -> None:
    """Point an alias at a version; protected aliases need an approved version passing its policy."""
    found = workspace().governance.promote(ref, alias)
    print_json(found) if as_json else console.print(f"{alias} -> {found.model}/{found.version}")


@policy_app.command("set")
def policy_set(path: Path = typer.Argument(..., help="A YAML policy file."),
               model: str = typer.Option(None, "--model"), tier: str = typer.Option(None, "--tier"),
               as_json: bool = JsonOption) -> None:
    """Store a policy for one model (--model) or a risk tier (--tier)."""
    if not path.is_file():
        fail(InvalidInput(f"policy file {path} does not exist"))
    info = workspace().governance.set_policy(path.read_text(), model=model, tier=tier)
    print_json(info) if as_json else console.print(f"Policy {info.scope}:{info.target} revision {info.revision}")


@policy_app.command("show")
def policy_show(ref: str, as_json: bool = JsonOption) -> None:
    """The policy that applies to a version."""
    info = workspace().governance.get_policy(ref)
    if as_json:
        print_json(info)
    else:
        console.print(info.source if info else "no policy applies", highlight=False)


@app.command("fairness")
def fairness(ref: str, data: Path = typer.Option(..., "--data", help="CSV or Parquet with features, label and sensitive columns."),
             label: str = typer.Option(..., "--label"), sensitive: list[str] = typer.Option(..., "--sensitive"),
             positive: str = typer.Option("1", "--positive", help="The favourable label."),
             min_group_size: int = typer.Option(30, "--min-group-size"), as_json: bool = JsonOption) -> None:
    """Evaluate a registered version's group fairness on a table and store the report."""
    import pandas as pd

    if not data.is_file():
        fail(InvalidInput(f"data file {data} does not exist"))
    frame = pd.read_parquet(data) if data.suffix == ".parquet" else pd.read_csv(data, sep=None, engine="python")
    positive_label: object = int(positive) if whole_number(positive.removeprefix("-")) is not None else positive
    report = workspace().governance.evaluate_fairness(ref, frame, label=label, sensitive=sensitive,
                                                      positive_label=positive_label, min_group_size=min_group_size,
                                                      dataset=str(data))
    rows = [(name, _f(a["disparate_impact_ratio"]), _f(a["demographic_parity_difference"]),
             _f(a["equalized_odds_difference"]), "pass" if a["four_fifths_passed"] else "FAIL",
             ", ".join(a["small_groups"])) for name, a in report["attributes"].items()]
    show(report, as_json, f"Fairness of {ref}", ["attribute", "disparate impact", "DP diff", "EO diff", "4/5 rule",
                                                 "small groups"], rows)


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@app.command("card")
def card(ref: str, fmt: str = typer.Option("md", "--format", help="md, html or json"),
         output: Path = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout.")) -> None:
    """The model card of a version."""
    text = workspace().governance.card(ref, fmt)
    if output:
        output.write_text(text)
        console.print(f"Wrote {output}")
    else:
        typer.echo(text, nl=False)


@app.command("card-edit")
def card_edit(ref: str, section: str = typer.Option(..., "--section"), text: str = typer.Option(None, "--text"),
              file: Path = typer.Option(None, "--file", help="Read the text from a file."), as_json: bool = JsonOption) -> None:
    """Write a new revision of a human-written card section."""
    if (text is None) == (file is None):
        fail(InvalidInput("give exactly one of --text or --file"))
    body = file.read_text() if file else text
    edited = workspace().governance.edit_card(ref, section, body)
    print_json(edited) if as_json else console.print(f"{section} of {ref} is at revision {edited['revision']}")


@tickets_app.command("sync")
def tickets_sync(request_id: str = typer.Option(None, "--request", help="Only this approval request."),
                 every: float = typer.Option(None, "--every", min=1.0, help="Keep polling every this many seconds "
                                             "(a schedule; stop with Ctrl-C or SIGTERM)."),
                 count: int = typer.Option(None, "--count", min=1, help="With --every: stop after this many polls."),
                 as_json: bool = JsonOption) -> None:
    """Open the change requests ticketed approval requests lack, and record each ticket's verdict as
    its approver's decision (run it from cron or with --every, or let the signed callback trigger it)."""
    import signal
    import threading

    governance = workspace().governance
    stop = threading.Event()
    if every:
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    done = 0
    while True:
        results = governance.sync_tickets(request_id)
        done += 1
        show(results, as_json, "change requests", ["request", "model", "ticket", "approval", "outcome", "detail"],
             [(r.request_id, r.ref, r.ticket_number or "", r.ticket_approval or "", r.outcome, r.detail)
              for r in results])
        if not every or (count and done >= count):
            return
        try:
            if stop.wait(every):
                return
        except KeyboardInterrupt:
            return


@app.command("export")
def export(ref: str = typer.Argument(..., help="NAME/VERSION or NAME@ALIAS"),
           out: Path = typer.Argument(..., help="A new folder, or a path ending in .zip")) -> None:
    """Write the evidence pack of a version (card, lineage, evaluation, fairness, approvals with
    tickets, alias and deployment history, monitoring, audit events with proofs). Check it with
    'slipway audit verify-pack OUT' or 'python OUT/verify_pack.py'."""
    written = workspace().governance.export_evidence(ref, out)
    console.print(f"evidence pack of {ref} written to {written}", highlight=False)
