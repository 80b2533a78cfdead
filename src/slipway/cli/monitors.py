"""``slipway monitors``: drift and data quality of current data against a reference."""

from __future__ import annotations

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, print_json, print_table, say

app = typer.Typer(help="Monitoring: drift and data quality against a reference.", no_args_is_help=True)


def _pairs(values: list[str]) -> dict[str, str]:
    """``NAME`` for every column, or ``COLUMN=NAME`` / ``numeric=NAME`` for some."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, name = value.rpartition("=")
        out[key if sep else "*"] = name
    return out


@app.command()
def drift(reference: str = typer.Argument(..., help="A dataset (name@version), a Parquet/CSV file or deployment:NAME."),
          current: str = typer.Argument(..., help="The data to test, same forms as REFERENCE."),
          method: list[str] = typer.Option([], "--method", help="ks, or COLUMN=ks, or numeric=psi (repeatable)."),
          threshold: list[str] = typer.Option([], "--threshold", help="0.05, or COLUMN=0.05 (repeatable)."),
          correction: str = typer.Option(None, "--correction", help="bonferroni or bh."),
          as_json: bool = JsonOption) -> None:
    """Test every column of CURRENT against REFERENCE and print each column's verdict."""
    from slipway.core.errors import InvalidInput

    thresholds: dict[str, float] = {}
    for key, value in _pairs(threshold).items():
        try:
            thresholds[key] = float(value)
        except ValueError:
            raise InvalidInput(f"threshold {value!r} is not a number") from None
    report = workspace().monitoring.drift(reference, current, method=_pairs(method),
                                          threshold=thresholds, correction=correction)
    if as_json:
        print_json(report.to_json())
        return
    rows = [[c.column, c.method, f"{c.score:.4g}", f"{c.threshold:g}", "DRIFT" if c.drifted else "ok", c.reason]
            for c in report.columns]
    print_table("drift", ["column", "method", "score", "threshold", "verdict", "why"], rows)
    say(f"{len(report.drifted_columns)} of {len(report.columns)} columns drifted ({report.share_drifted:.0%}); "
        f"dataset drift: {'yes' if report.dataset_drift else 'no'}")


@app.command()
def quality(reference: str = typer.Argument(..., help="Same forms as for drift."),
            current: str = typer.Argument(..., help="Same forms as for drift."),
            as_json: bool = JsonOption) -> None:
    """Schema changes, nulls, out-of-range, new categories, constant and zeroed columns."""
    report = workspace().monitoring.quality(reference, current)
    if as_json:
        print_json(report.to_json())
        return
    print_table("quality", ["kind", "column", "severity", "share", "detail"],
                [[f.kind, f.column or "", f.severity, "" if f.share is None else f"{f.share:.2%}", f.detail]
                 for f in report.findings])
    say("quality: ok" if report.ok else "quality: errors found")
