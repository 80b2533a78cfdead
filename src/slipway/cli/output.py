"""Printing for the CLI: Rich tables for people, ``--json`` for programs, one-line errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from slipway.core.environment import DEFAULT_HOME, plain_home
from slipway.core.errors import SlipwayError
from slipway.core.records import as_plain

# Piped output is for programs: no wrapping at 80 columns (a 32-character id split over lines is
# unusable), no colour codes. A terminal keeps Rich's width and styles.
_PIPED = not sys.stdout.isatty()
console = Console(soft_wrap=_PIPED, width=100_000 if _PIPED else None)
err_console = Console(stderr=True, soft_wrap=True)


def say(text: str) -> None:
    """Print data-bearing text as it is: no markup (``Rotational speed [rpm]`` keeps its unit), no
    highlighting."""
    console.print(text, markup=False, highlight=False)

JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


def fail(error: SlipwayError | str, code: int = 2) -> NoReturn:
    message = error.message if isinstance(error, SlipwayError) else error
    kind = type(error).__name__ if isinstance(error, SlipwayError) else "error"
    if kind == "NotFound" and _default_store_in_use():
        # Forgetting the quickstart's `export SLIPWAY_HOME=...` opens (and creates) ./.slipway,
        # where nothing the reader made exists: say which store was asked.
        message += f" (in the store at {os.path.abspath(DEFAULT_HOME)}: SLIPWAY_HOME is not set)"
    err_console.print(f"[bold red]{kind}:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def field(label: str, value: Any) -> None:
    """``label: value`` with a bold label; the value is data, printed exactly (markup escaped)."""
    console.print(f"[bold]{escape(label)}[/]: {escape(str(value))}", highlight=False)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(as_plain(value), option=orjson.OPT_INDENT_2).decode() + "\n")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        # Escape markup: column names such as "Tool wear [min]" are data, not Rich styles.
        table.add_row(*["" if v is None else escape(str(v)) for v in row])
    console.print(table)


def show(value: Any, as_json: bool, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``--json`` prints ``value``; otherwise a table of ``rows``."""
    if as_json:
        print_json(value)
    else:
        print_table(title, columns, rows)


def _default_store_in_use() -> bool:
    """No SLIPWAY_HOME, store, server or config file says where the store is: ./.slipway is used."""
    return plain_home() == DEFAULT_HOME and "SLIPWAY_HOME" not in os.environ
