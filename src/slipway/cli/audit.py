"""``slipway audit log|verify|checkpoint|prove|check-proof|verify-pack|keygen``: the audit ledger and its proofs.

(Governance adds ``slipway audit at TIME`` to this group.)
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import orjson
import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, err_console, print_json, show
from slipway.core.clock import iso
from slipway.core.errors import InvalidInput


def _when(ms: int | None) -> str:
    """A compact UTC time for tables (``--json`` keeps the epoch milliseconds)."""
    return iso(ms)[:19].replace("T", " ")


app = typer.Typer(help="The audit ledger: a Merkle tree with signed checkpoints.", no_args_is_help=True)


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


def _read_json(path: Path, what: str) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as err:
        raise InvalidInput(f"cannot read {what} {path}: {err.strerror}") from err
    except orjson.JSONDecodeError as err:
        raise InvalidInput(f"{path} is not a JSON {what}: {err}") from err


def _read_text(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text()
    except OSError as err:
        raise InvalidInput(f"cannot read {what} {path}: {err.strerror}") from err


@app.command("verify")
def audit_verify(
    checkpoint: list[Path] = typer.Option(None, "--checkpoint", help="A published checkpoint file (repeatable)."),
    public_key: Path = typer.Option(None, "--public-key", help="The checkpoint signing public key (PEM)."),
    no_state: bool = typer.Option(False, "--no-state", help="Skip replaying the ledger against the governed rows."),
    as_json: bool = JsonOption,
) -> None:
    """Prove the ledger extends every published checkpoint and explains every governed row.

    Exit code 1, naming the first bad event and every unexplained row, if anything was tampered with.
    """
    checkpoints = [_read_json(p, "checkpoint") for p in checkpoint or []]
    verdict = workspace().audit.verify(checkpoints=checkpoints, public_key=_read_text(public_key, "public key"),
                                       state=not no_state)
    if as_json:
        print_json(verdict)
    elif verdict.ok:
        against = (f"consistent with {verdict.checkpoints} signed checkpoint(s)" if verdict.checkpoints
                   else "internally consistent")
        console.print(f"[green]ok[/]: {verdict.events} events, {against}; tree root {verdict.root_hash[:16]}…; "
                      "every governed row is explained by the ledger", highlight=False)
        for warning in verdict.warnings or []:
            err_console.print(f"[yellow]warning[/]: {warning}", highlight=False, soft_wrap=True)
    else:
        where = f" at event {verdict.first_bad_seq}" if verdict.first_bad_seq is not None else ""
        err_console.print(f"[bold red]audit verification failed[/]{where}: {verdict.reason}",
                          highlight=False, soft_wrap=True)
        for problem in verdict.problems[1:] if verdict.problems[0].message == verdict.reason else verdict.problems:
            err_console.print(f"  - [{problem.check}] {problem.message}", highlight=False, soft_wrap=True)
    if not verdict.ok:
        raise typer.Exit(1)


@app.command("checkpoint")
def audit_checkpoint(
    to: list[str] = typer.Option(None, "--to", help="Publish here instead of [audit] checkpoints: a folder, an "
                                 "fsspec URL (s3://…) or a webhook URL (repeatable)."),
    every: float = typer.Option(None, "--every", min=1.0, help="Keep publishing one every this many seconds "
                                "(a schedule; stop with Ctrl-C or SIGTERM)."),
    count: int = typer.Option(None, "--count", min=1, help="With --every: stop after this many."),
    as_json: bool = JsonOption,
) -> None:
    """Sign a checkpoint of the ledger (size, root hash, time) and publish it outside the store."""
    audit = workspace().audit
    stop = threading.Event()
    if every:
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    done = 0
    while True:
        published = audit.checkpoint(to=list(to) if to else None)
        done += 1
        if as_json:
            print_json(published)
        else:
            cp = published["checkpoint"]
            console.print(f"checkpoint: {cp['tree_size']} events, root {cp['root_hash']}, key {cp['key_id']}",
                          highlight=False)
            for where in published["published_to"]:
                console.print(f"published to {where}", highlight=False)
        if not every or (count and done >= count):
            return
        try:
            if stop.wait(every):
                return
        except KeyboardInterrupt:
            return


@app.command("prove")
def audit_prove(
    event: str = typer.Argument(..., help="An event id or sequence number."),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="Prove against this checkpoint file."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the proof here instead of stdout."),
) -> None:
    """Print an inclusion proof (JSON) that anyone can check offline with the public key alone."""
    chosen = _read_json(checkpoint, "checkpoint") if checkpoint else None
    proof = workspace().audit.prove(event, chosen)
    body = orjson.dumps(proof.document, option=orjson.OPT_INDENT_2).decode()
    if output:
        output.write_text(body + "\n")
        console.print(f"proof of event {proof.seq} in the tree of {proof.tree_size} events written to {output}",
                      highlight=False)
    else:
        print(body)


@app.command("check-proof")
def audit_check_proof(
    proof: Path = typer.Argument(..., help="A proof printed by 'slipway audit prove'."),
    public_key: Path = typer.Option(..., "--public-key", help="The ledger's checkpoint public key (PEM)."),
) -> None:
    """Check an inclusion proof offline: no store, no server, only the proof and the public key."""
    from slipway.core.transparency import ProofError, check_inclusion_proof

    document = _read_json(proof, "proof")
    try:
        event = check_inclusion_proof(document, _read_text(public_key, "public key") or "")
    except ProofError as err:
        err_console.print(f"[bold red]proof rejected[/]: {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from err
    cp = document["checkpoint"]
    console.print(f"[green]valid[/]: event {event['seq']} ({event['action']} on {event['subject_kind']}:"
                  f"{event['subject_id']} by {event['actor']}) is in the ledger '{cp['origin']}' of "
                  f"{cp['tree_size']} events signed at {iso(int(cp['timestamp_ms']))} by key {cp['key_id']}",
                  highlight=False)


@app.command("verify-pack")
def audit_verify_pack(
    pack: Path = typer.Argument(..., help="An evidence pack folder or zip ('slipway governance export')."),
    public_key: Path = typer.Option(None, "--public-key", help="The ledger's checkpoint public key (PEM); default: "
                                    "the pack's copy, which only shows the pack is self-consistent."),
    as_json: bool = JsonOption,
) -> None:
    """Check an evidence pack offline: files against its manifest, every audit event against the
    signed checkpoint. Exit 0 when it verifies, 1 when not (the same code as the pack's verify_pack.py)."""
    from slipway.core.evidence_check import check_pack, read_pack

    try:
        files = read_pack(pack)
    except OSError as err:
        raise InvalidInput(f"cannot read the evidence pack {pack}: {err}") from err
    verdict = check_pack(files, _read_text(public_key, "public key") if public_key else None)
    if as_json:
        print_json(verdict)
    elif verdict["ok"]:
        cp = verdict["checkpoint"]
        console.print(f"[green]valid[/]: {verdict['events']} audit events are in the ledger '{cp['origin']}' of "
                      f"{cp['tree_size']} events signed at {iso(int(cp['timestamp_ms']))} by key {cp['key_id']} "
                      f"({verdict['key']}); every file matches the manifest", highlight=False)
    else:
        for problem in verdict["problems"]:
            err_console.print(f"[bold red]FAIL[/]: {problem}", highlight=False, soft_wrap=True)
    if not verdict["ok"]:
        raise typer.Exit(1)


@app.command("keygen")
def audit_keygen(path: Path = typer.Argument(..., help="Where to write the private key (PATH.pub gets the public key).")) -> None:
    """Make an Ed25519 checkpoint signing key. Keep it outside the store, e.g. /etc/slipway/."""
    from slipway.audit.keys import generate_key

    public = generate_key(path)
    console.print(f"private key: {path} (mode 0600)\npublic key:  {public}\nset \\[audit] signing_key and public_key "
                  "in slipway.toml", highlight=False)


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
