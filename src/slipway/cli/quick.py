"""Commands answered before the Typer app is built, so their start-up imports almost nothing.

Only ``slipway data status NAME PATH [--json] [--exit-code]`` and ``data add`` for now (see :mod:`slipway.data.quick`). When the
lean path does not apply (other options, a remote or PostgreSQL store, an unknown dataset, any
error), :func:`run` returns False and ``main`` runs the normal command, which prints the same
output or the usual error. With the fast paths off (``SLIPWAY_FAST_PATHS=0``, see
:mod:`slipway.core.fastpaths`) :func:`run` always returns False.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # no ``typing`` at run time: this module is on the path that must start fastest
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


def _name_and_path(args: list[str], flags: tuple[str, ...] = ("--json",)) -> tuple[str, str] | None:
    """``NAME PATH`` with each of ``flags`` at most once, and nothing else."""
    positional = [a for a in args if a not in flags]
    if (len(positional) != 2 or any(args.count(f) > 1 for f in flags)
            or any(a.startswith("-") for a in positional)):
        return None
    if not all(positional):
        return None  # an empty name or path: the normal command says what is wrong
    return positional[0], positional[1]


def run(argv: list[str]) -> bool:
    """Answer ``argv`` (the words after ``slipway``) if it is a quick command; True when done."""
    from slipway.core import fastpaths

    if not fastpaths.enabled():
        return False
    if argv[:2] == ["data", "add"]:
        return _add(argv[2:])
    if argv[:2] != ["data", "status"]:
        return False
    args = argv[2:]
    found = _name_and_path(args, ("--json", "--exit-code"))
    if found is None:
        return False
    name, path = found
    try:
        report = _watched_status(name, path)
        if report is None:
            from slipway.data.quick import quick_status

            report = quick_status(name, path)
    except Exception:  # noqa: BLE001 - any surprise: the normal command runs and reports it
        return False
    if report is None:
        return False
    print_status(report, name, path, "--json" in args, "--exit-code" in args)
    fastpaths.took("cli.quick")
    return True


def _watched_status(name: str, path: str) -> Any:
    """The answer of a ``slipway data watch`` of the folder ``path`` (None when none runs), read
    with the standard library only: this is the path that must start in milliseconds."""
    from types import SimpleNamespace

    from slipway.core import fastpaths
    from slipway.core.environment import plain_home
    from slipway.data.watch_client import ask_watcher

    home, store = plain_home(), None
    if home is None:  # a config file or a store set elsewhere: read the settings the usual way
        from slipway.core.settings import load_settings
        from slipway.data.watch_client import settings_identity

        settings = load_settings()
        if not fastpaths.enabled(settings):
            return None
        home, store = str(settings.home), settings_identity(settings)
    answer = ask_watcher(home, path, name, store)
    if answer is None:
        return None
    fastpaths.took("data.watch_status")
    changes = {key: list(answer[key]) for key in ("added", "removed", "changed")}
    return SimpleNamespace(dataset=name, version=answer["version"], clean=not any(changes.values()), **changes)


def print_status(report: Any, name: str, path: Path | str, as_json: bool, exit_code: bool = False) -> None:
    """The output of ``slipway data status`` (shared with the Typer command); with ``exit_code``,
    exit with 1 when something changed (as ``git diff --exit-code`` does)."""
    _print_status(report, name, path, as_json)
    if exit_code and not report.clean:
        sys.stdout.flush()
        sys.exit(1)


def _print_status(report: Any, name: str, path: Path | str, as_json: bool) -> None:
    if as_json:
        import json  # the same bytes as print_json's orjson for these plain values; loads faster

        sys.stdout.write(json.dumps({"dataset": report.dataset, "version": report.version, "added": report.added,
                                     "removed": report.removed, "changed": report.changed,
                                     "clean": report.clean}, indent=2, ensure_ascii=False) + "\n")
        return
    # Plain text, no markup: Rich would cost more to import than the whole answer.
    if report.clean:
        print(f"{path} is up to date with {name}@{report.version}.")
    else:
        for label, items in (("added", report.added), ("removed", report.removed), ("changed", report.changed)):
            for item in items:
                print(f"  {label}: {item}")


def _add(args: list[str]) -> bool:
    """``slipway data add NAME PATH [--json]`` without Typer's parameter machinery (which imports
    pydantic): the same call and output as the Typer command, for the case with no other options
    and no progress bar to draw (``--json``, or stderr is not a terminal)."""
    found = _name_and_path(args)
    as_json = "--json" in args
    if found is None or not (as_json or not sys.stderr.isatty()):
        return False
    from pathlib import Path

    from slipway.core import fastpaths

    name, path = found[0], Path(found[1])
    from slipway.core.errors import NotFound, SlipwayError

    try:
        if not path.exists():
            raise NotFound(f"no file or folder at {path}")
        from slipway.data.early import EarlyIngest

        early = EarlyIngest.start(name, path)  # a large file is copied while the workspace opens
        from slipway.workspace import default_workspace

        workspace = default_workspace()
        if early is not None:
            early.join()
        version = workspace.data.add(name, path, key=None, message="", progress=None)
    except SlipwayError as err:
        from slipway.cli.output import fail

        fail(err)
    except OSError as err:  # as in slipway.cli.main.main: one line, not a traceback
        from slipway.cli.output import fail

        where = f": {err.filename}" if err.filename else ""
        fail(f"{err.strerror or err}{where}")
    except KeyboardInterrupt:
        sys.exit(130)
    print_added(version, as_json)
    fastpaths.took("cli.quick")
    return True


def print_added(version: Any, as_json: bool) -> None:
    """The output of ``slipway data add`` (shared with the Typer command)."""
    if as_json:
        _print_json(version)
        return
    from slipway.cli.output import console

    if version.created:
        rows = f"{version.rows:,} rows, " if version.rows is not None else ""
        console.print(f"Created [bold]{version.ref}[/] ({rows}{version.file_count:,} files, {size_text(version.size)}) "
                      f"digest {version.digest[:12]}")
    else:
        console.print(f"Unchanged: {version.ref} already holds this content; no new version was created.")


def size_text(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return str(n)  # pragma: no cover


def _print_json(value: Any) -> None:
    # The same bytes as slipway.cli.output.print_json, without importing Rich and Typer.
    import orjson

    from slipway.core.records import as_plain

    sys.stdout.write(orjson.dumps(as_plain(value), option=orjson.OPT_INDENT_2).decode() + "\n")
