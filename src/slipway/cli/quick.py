"""Commands answered before the Typer app is built, so their start-up imports almost nothing.

Only ``slipway data status NAME PATH [--json]`` for now (see :mod:`slipway.data.quick`). When the
lean path does not apply (other options, a remote or PostgreSQL store, an unknown dataset, any
error), :func:`run` returns False and ``main`` runs the normal command, which prints the same
output or the usual error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def run(argv: list[str]) -> bool:
    """Answer ``argv`` (the words after ``slipway``) if it is a quick command; True when done."""
    if argv[:2] != ["data", "status"]:
        return False
    args = argv[2:]
    positional = [a for a in args if a != "--json"]
    if len(positional) != 2 or len(args) - len(positional) > 1 or any(a.startswith("-") for a in positional):
        return False
    name, path = positional
    try:
        from slipway.data.quick import quick_status

        report = quick_status(name, path)
    except Exception:  # noqa: BLE001 - any surprise: the normal command runs and reports it
        return False
    if report is None:
        return False
    print_status(report, name, Path(path), "--json" in args)
    return True


def print_status(report: Any, name: str, path: Path, as_json: bool) -> None:
    """The output of ``slipway data status`` (shared with the Typer command)."""
    if as_json:
        import orjson

        from slipway.core.records import as_plain

        body = {"dataset": report.dataset, "version": report.version, "added": report.added,
                "removed": report.removed, "changed": report.changed, "clean": report.clean}
        sys.stdout.write(orjson.dumps(as_plain(body), option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    from slipway.cli.output import console

    if report.clean:
        console.print(f"{path} is up to date with {name}@{report.version}.")
    else:
        for label, items in (("added", report.added), ("removed", report.removed), ("changed", report.changed)):
            for item in items:
                console.print(f"  {label}: {item}", highlight=False)
