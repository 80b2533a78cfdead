"""``slipway monitors performance``: realised and estimated (CBPE, DLE) performance per chunk."""

from __future__ import annotations

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, print_json, print_table, say
from slipway.core.errors import InvalidInput

SHOW = ("both", "realised", "estimated")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _span(lower: float | None, upper: float | None) -> str:
    return "" if lower is None or upper is None else f"[{lower:.4f}, {upper:.4f}]"


def performance(current: str = typer.Argument(..., help="deployment:NAME or deployment:NAME/VARIANT (logged rows joined with their "
                                              "feedback labels), a dataset or a Parquet/CSV file."),
                reference: str = typer.Option(None, "--reference", "-r",
                                              help="Labelled reference data (fits CBPE/DLE and the thresholds)."),
                model: str = typer.Option(None, "--model", help="Computes missing predictions/scores (name@alias)."),
                target: str = typer.Option("target", "--target", help="The label column."),
                prediction: str = typer.Option("prediction", "--prediction", help="The prediction column."),
                score: str = typer.Option("score", "--score", help="The positive class's probability column."),
                problem: str = typer.Option(None, "--problem", help="classification or regression."),
                chunk_size: int = typer.Option(None, "--chunk-size", help="Rows per chunk."),
                chunk_number: int = typer.Option(None, "--chunk-number", help="Number of chunks (default 10)."),
                chunk_period: str = typer.Option(None, "--chunk-period", help="A period per chunk: 1h, 1d, 7d."),
                timestamp: str = typer.Option(None, "--timestamp", help="The time column (ts_ms for a deployment)."),
                metric: list[str] = typer.Option([], "--metric", help="A metric to show (repeatable; default all)."),
                only: str = typer.Option("both", "--show", help="both, realised or estimated."),
                replicates: int = typer.Option(200, "--replicates", help="Bootstrap replicates of the intervals."),
                probability: list[str] = typer.Option([], "--probability", help="A multiclass classifier's class "
                                                      "probability column, CLASS=COLUMN (repeat per class)."),
                as_json: bool = JsonOption) -> None:
    """Each metric per chunk: the realised value (with its bootstrap interval) where labels have
    arrived, beside the CBPE/DLE estimate (with its band) and the reference's thresholds."""
    if only not in SHOW:
        raise InvalidInput(f"--show must be one of {', '.join(SHOW)}, not {only!r}")
    if only == "estimated" and reference is None:
        raise InvalidInput("estimates need a labelled --reference")
    bad = [p for p in probability if "=" not in p or not p.partition("=")[0] or not p.partition("=")[2]]
    if bad:
        raise InvalidInput(f"--probability takes CLASS=COLUMN, not {bad[0]!r}")
    probabilities = dict(p.split("=", 1) for p in probability) or None
    report = workspace().monitoring.performance(
        reference, current, model=model, target=target, prediction=prediction, score=score, problem=problem,
        timestamp=timestamp, chunk_size=chunk_size, chunk_number=chunk_number, chunk_period=chunk_period,
        metrics=metric or None, estimate=only != "realised",
        replicates=0 if only == "estimated" else replicates, probabilities=probabilities)
    if as_json:
        print_json(report.to_json())
        return
    columns = ["chunk", "metric", "rows", "labelled"]
    columns += ["realised", "interval"] if only != "estimated" else []
    columns += ["estimated", "band"] if only != "realised" else []
    columns += ["thresholds", "alert"]
    rows = []
    for c in report.chunks:
        row: list[object] = [c.chunk, c.metric, c.rows, c.labelled]
        row += [_number(c.realised), _span(c.realised_lower, c.realised_upper)] if only != "estimated" else []
        row += [_number(c.estimated), _span(c.lower_band, c.upper_band)] if only != "realised" else []
        row += [_span(c.lower_threshold, c.upper_threshold), "ALERT" if c.alert else ""]
        rows.append(row)
    method = {"cbpe": "CBPE", "dle": "DLE", None: "none"}[report.estimator]
    print_table(f"performance ({report.problem}; estimator: {method})", columns, rows)
    say(f"{report.rows} rows, {report.labelled_rows} labelled; {len(report.alerts)} alert(s); "
        f"intervals: {report.interval}")
