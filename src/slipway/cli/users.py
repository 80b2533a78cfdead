"""``slipway users create|ls|roles|bind|unbind|bindings|set-password``, ``slipway users token create|revoke|ls`` and
``slipway users key generate|add|revoke|ls``."""

from __future__ import annotations

import sys

import typer

from slipway.cli import users_keys
from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, print_json, show
from slipway.core.clock import iso

app = typer.Typer(help="Users, service accounts, roles and API tokens.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (stored hashed; shown once).", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(users_keys.app, name="key")


@app.command("create")
def create(name: str, roles: list[str] = typer.Option([], "--role", "-r", help="Repeatable: viewer, developer, "
                                                      "validator, approver, deployer, auditor, admin; none for a "
                                                      "user whose roles come from 'users bind' in projects"),
           service: bool = typer.Option(False, "--service", help="A service account, not a person."),
           email: str = typer.Option(None, "--email"), as_json: bool = JsonOption) -> None:
    """Create a user or service account."""
    user = workspace().identity.create_user(name, roles, kind="service" if service else "user", email=email)
    print_json(user) if as_json else console.print(
        f"Created {user.kind} {user.name} ({', '.join(user.roles) or 'no global roles'})")


@app.command("ls")
def list_users(as_json: bool = JsonOption) -> None:
    """Users and service accounts."""
    found = workspace().identity.list_users()
    rows = [(u.name, u.kind, ", ".join(u.roles), "yes" if u.disabled else "", iso(u.created_ms)) for u in found]
    show(found, as_json, "Users", ["name", "kind", "roles", "disabled", "created"], rows)


@app.command("roles")
def roles(name: str, role: list[str] = typer.Option(..., "--role", "-r"), as_json: bool = JsonOption) -> None:
    """Replace a user's roles."""
    user = workspace().identity.set_roles(name, role)
    print_json(user) if as_json else console.print(f"{user.name}: {', '.join(user.roles)}")


@app.command("bind")
def bind(name: str, role: str, project: str = typer.Option(..., "--project", "-p", help="The project the role holds in."),
         as_json: bool = JsonOption) -> None:
    """Grant NAME the ROLE in one project only (e.g. developer in fraud)."""
    binding = workspace().identity.bind(name, role, project)
    print_json(binding) if as_json else console.print(f"{name} is {role} in project {project}")


@app.command("unbind")
def unbind(name: str, role: str, project: str = typer.Option(..., "--project", "-p")) -> None:
    """Take ROLE in a project away from NAME."""
    workspace().identity.unbind(name, role, project)
    console.print(f"{name} is no longer {role} in project {project}")


@app.command("bindings")
def bindings(name: str = typer.Argument(None, help="Default: yourself."), as_json: bool = JsonOption) -> None:
    """A user's per-project roles."""
    found = workspace().identity.bindings(name)
    show(found, as_json, "Bindings", ["user", "role", "project", "bound by", "since"],
         [(b.user, b.role, b.project, b.bound_by, iso(b.created_ms)) for b in found])


@app.command("disable")
def disable(name: str, enable: bool = typer.Option(False, "--enable", help="Re-enable instead."),
            as_json: bool = JsonOption) -> None:
    """Disable (offboard) a user: its tokens stop working at once."""
    user = workspace().identity.set_disabled(name, not enable)
    print_json(user) if as_json else console.print(f"{user.name} is {'disabled' if user.disabled else 'enabled'}")


@app.command("set-password")
def set_password(name: str, password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (for scripts) instead of a prompt.")) -> None:
    """Set the password NAME signs in to the web UI with (12 characters or more; stored as a
    salted scrypt hash)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    workspace().identity.set_password(name, password)
    console.print(f"Password set for {name}")


@app.command("whoami")
def whoami(as_json: bool = JsonOption) -> None:
    """Who this CLI acts as, and with which roles."""
    me = workspace().identity.whoami()
    if as_json:
        print_json(me)
        return
    held = [", ".join(me["roles"]) or "no global roles"]  # a project-bound user's roles are its bindings
    held += [f"{role} in {project}" for project, role in me.get("bindings") or []]
    console.print(f"{me['name']} ({me['kind']}): {'; '.join(held)}", highlight=False)


@token_app.command("create")
def token_create(user: str, description: str = typer.Option("", "--description", "-d"),
                 expires_in_days: float = typer.Option(None, "--expires-in-days"), as_json: bool = JsonOption) -> None:
    """Mint a token for a user; the secret is printed once and never stored."""
    issued = workspace().identity.create_token(user, description, expires_in_days)
    if as_json:
        print_json(issued)
    else:
        console.print(f"Token {issued.info.id} for {user}:\n{issued.token}")


@token_app.command("revoke")
def token_revoke(token_id: str, as_json: bool = JsonOption) -> None:
    """Revoke a token by its id."""
    info = workspace().identity.revoke_token(token_id)
    print_json(info) if as_json else console.print(f"Revoked token {info.id} of {info.user}")


@token_app.command("ls")
def token_list(user: str = typer.Option(None, "--user"), as_json: bool = JsonOption) -> None:
    """Tokens (ids and prefixes only)."""
    found = workspace().identity.list_tokens(user)
    rows = [(t.id, t.user, t.prefix + "…", t.description, iso(t.created_ms), iso(t.expires_ms) or "never",
             iso(t.revoked_ms)) for t in found]
    show(found, as_json, "Tokens", ["id", "user", "prefix", "description", "created", "expires", "revoked"], rows)
