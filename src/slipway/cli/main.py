"""``slipway``: the command line. One sub-command group per noun (``slipway <noun> <verb>``).

User mistakes print one line and exit with code 2; nothing prints a traceback for them.
"""

from __future__ import annotations

import sys

# Typer and Rich load inside build()/main(), after the quick commands (slipway.cli.quick) had
# their chance: ``slipway data status`` answers without them (nor typing: mypy treats any name
# TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typer

HELP = "Slipway: data, experiments, registry, governance, pipelines and serving in one system."


def root() -> None:
    """Slipway: data, experiments, registry, governance, pipelines and serving in one system."""


# noun -> module holding a Typer ``app`` (groups) or a ``register(app)`` function (top-level commands).
GROUPS = {
    "experiments": "slipway.cli.experiments",
    "runs": "slipway.cli.runs",
    "audit": "slipway.cli.audit",
    "users": "slipway.cli.users",
    "projects": "slipway.cli.projects",
    "data": "slipway.cli.data",
    "models": "slipway.cli.models",
    "governance": "slipway.cli.governance",
    "lineage": "slipway.cli.lineage",
    "pipelines": "slipway.cli.pipelines",
    "deploy": "slipway.cli.deploy",
    "monitors": "slipway.cli.monitors",
    "alerts": "slipway.cli.alerts",
    "features": "slipway.cli.features",
    "import": "slipway.cli.imports",
}
# top-level command -> the module whose ``register(app)`` adds it.
COMMANDS = {
    "server": "slipway.cli.server",
    "gc": "slipway.cli.maintenance",
    "serve": "slipway.cli.serve",
    "build": "slipway.cli.serve",
    "quickstart": "slipway.cli.quickstart",
    "example": "slipway.cli.examples",
    "scheduler": "slipway.cli.scheduler",
    "diagnose": "slipway.cli.diagnose",
    "apply": "slipway.cli.apply",
    "argocd": "slipway.cli.apply",
}


def _load(module_name: str) -> object | None:
    import importlib

    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name == module_name:
            return None
        raise


def build(argv: list[str] | None = None) -> typer.Typer:
    """Attach the command groups. Only the group a command names is imported (each pulls in its
    domain: scikit-learn, pyarrow, uvicorn...), which keeps ``slipway data status`` and friends
    fast to start; ``--help`` and unknown words load everything."""
    import typer

    app = typer.Typer(name="slipway", help=HELP, no_args_is_help=True, pretty_exceptions_enable=False,
                      add_completion=False)
    app.callback()(root)
    word = next((a for a in argv or [] if not a.startswith("-")), None)
    groups = {word: GROUPS[word]} if word in GROUPS else ({} if word in COMMANDS else GROUPS)
    commands = {COMMANDS[word]} if word in COMMANDS else (set() if word in GROUPS else set(COMMANDS.values()))
    for noun, module_name in groups.items():
        module = _load(module_name)
        if module is not None:
            app.add_typer(module.app, name=noun)  # type: ignore[attr-defined]
    for module_name in sorted(commands):
        module = _load(module_name)
        if module is not None:
            module.register(app)  # type: ignore[attr-defined]
    return app


def __getattr__(name: str) -> typer.Typer:
    # ``from slipway.cli.main import app``: the whole command tree (tests, docs generators).
    if name == "app":
        return build(None)
    raise AttributeError(name)


def _take_project(argv: list[str]) -> list[str]:
    """``slipway --project P NOUN …``: the project new objects go to, for this command (it sets
    ``SLIPWAY_PROJECT``, which the settings read). Only before the noun: after it, ``--project``
    belongs to the command (``slipway users bind … --project P``)."""
    import os

    if argv[:1] == ["--project"] and len(argv) > 1:
        os.environ["SLIPWAY_PROJECT"], argv = argv[1], argv[2:]
    elif argv[:1] and argv[0].startswith("--project="):
        os.environ["SLIPWAY_PROJECT"], argv = argv[0].partition("=")[2], argv[1:]
    return argv


def main() -> None:
    from slipway.cli.quick import run

    sys.argv[1:] = _take_project(sys.argv[1:])
    if sys.argv[1:] in (["--version"], ["-V"]):
        from importlib.metadata import version

        sys.stdout.write(f"slipway {version('slipway')}\n")
        return
    if run(sys.argv[1:]):
        return
    import typer

    from slipway.cli.output import fail
    from slipway.core.errors import SlipwayError

    # Typer carries its own copy of click; its usage error is BadParameter's base class.
    usage_error: type[Exception] = next(k for k in typer.BadParameter.__mro__ if k.__name__ == "UsageError")
    try:
        # Not standalone: click would print a usage mistake as a boxed, multi-line panel; here it
        # is one line, like every other mistake (help for a bare group stays help).
        result = build(sys.argv[1:])(standalone_mode=False)
    except usage_error as err:
        if type(err).__name__ == "NoArgsIsHelpError":
            err.show()  # type: ignore[attr-defined]
            sys.exit(err.exit_code)  # type: ignore[attr-defined]
        ctx = err.ctx  # type: ignore[attr-defined]
        where = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
        fail(f"{err.format_message().rstrip('.')}{where}")  # type: ignore[attr-defined]
    except typer.Abort:
        sys.exit(130)
    except SlipwayError as err:
        fail(err)
    except OSError as err:
        # A path the user gave that cannot be read or written (a missing folder, /proc, a file
        # where a folder should be): one line, not a traceback.
        where = f": {err.filename}" if err.filename else ""
        fail(f"{err.strerror or err}{where}")
    except UnicodeDecodeError as err:
        # A spec, policy or definition file saved in another encoding (UTF-16 from a Windows
        # editor, Latin-1): every file Slipway reads as text is UTF-8.
        fail(f"a file given is not UTF-8 text (byte {err.object[err.start:err.start + 1]!r} at position "
             f"{err.start}); save it as UTF-8")
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(result, int) and result:  # a command's typer.Exit(code)
        sys.exit(result)


if __name__ == "__main__":
    main()
