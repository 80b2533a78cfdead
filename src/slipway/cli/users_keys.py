"""``slipway users key generate|add|revoke|ls``: the Ed25519 keys that sign embedded decisions."""

from __future__ import annotations

from pathlib import Path

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, fail, print_json, show
from slipway.core.clock import iso

app = typer.Typer(help="Signing keys: approvals, rejections and protected-alias moves made embedded are signed "
                       "with a key registered to you (like Git commit signing).", no_args_is_help=True)

DEFAULT_KEY = "~/.config/slipway/signing_key"


@app.command("generate")
def generate(path: str = typer.Argument(DEFAULT_KEY, help="Where to write the private key (mode 0600); the "
                                        "public key goes beside it as PATH.pub. Keep it outside SLIPWAY_HOME."),
             comment: str = typer.Option("", "--comment", help="A label stored in the public key.")) -> None:
    """Create an Ed25519 key pair (an existing ssh-ed25519 key works too)."""
    from slipway.identity.keys import generate_key_files

    public, fingerprint = generate_key_files(path, comment)
    console.print(f"Wrote {public} ({fingerprint}). Ask an admin to run 'slipway users key add YOUR_NAME {public}', "
                  f"then set SLIPWAY_SIGNING_KEY={Path(path).expanduser()}")


@app.command("add")
def add(user: str, public_key_file: Path = typer.Argument(..., help="The .pub file (ssh-ed25519 AAAA…)."),
        as_json: bool = JsonOption) -> None:
    """Register a public key to a user (admin)."""
    try:
        text = public_key_file.read_text()
    except OSError as err:
        fail(f"cannot read {public_key_file}: {err.strerror}")
    key = workspace().identity.add_key(user, text)
    print_json(key) if as_json else console.print(f"Registered {key.fingerprint} to {key.user}")


@app.command("revoke")
def revoke(fingerprint: str, as_json: bool = JsonOption) -> None:
    """Revoke a key (admin): it signs nothing from now on; its past signatures still verify."""
    key = workspace().identity.revoke_key(fingerprint)
    print_json(key) if as_json else console.print(f"Revoked {key.fingerprint} of {key.user}")


@app.command("ls")
def list_keys(user: str = typer.Option(None, "--user"), as_json: bool = JsonOption) -> None:
    """Registered keys and their owners."""
    found = workspace().identity.list_keys(user)
    rows = [(k.user, k.fingerprint, k.added_by, iso(k.created_ms), iso(k.revoked_ms)) for k in found]
    show(found, as_json, "Signing keys", ["user", "fingerprint", "added by", "added", "revoked"], rows)
