"""``slipway quickstart``: runs the predictive-maintenance example (examples/predictive_maintenance/run.py),
from raw data to a retrained canary, in one command (``slipway example predictive-maintenance`` runs
the same file; :mod:`slipway.cli.examples` finds it, from a clone or an installed package)."""

from __future__ import annotations

from pathlib import Path

import typer

from slipway.cli.examples import example_folder, load_example
from slipway.cli.output import console


def register(app: typer.Typer) -> None:
    @app.command("quickstart")
    def quickstart(
        home: Path = typer.Option(Path(".slipway-quickstart"), "--home", help="Folder to record everything in."),
        data: Path = typer.Option(None, "--data", help="The AI4I CSV (default: ../shared/data/ai4i2020/ai4i2020.csv "
                                                        "beside the repository)."),
        serve: bool = typer.Option(False, "--serve", help="Keep the inference server running at the end (Ctrl-C stops it)."),
        port: int = typer.Option(0, "--port", help="Port for the inference server (default: any free port)."),
    ) -> None:
        """Run the predictive-maintenance example (examples/predictive_maintenance/run.py) end to end.

        Versions the AI4I history, validates and trains with tracking, blesses, registers, approves
        under the four-eyes rule, deploys and serves real requests; then a new week of data
        triggers a retrain whose canary the controller promotes or rolls back. Run it again in
        the same home and it reuses what is there.
        """
        from slipway.cli.output import fail

        if not 0 <= port < 65536:
            fail(f"--port must be from 0 to 65535, got {port}")
        example = load_example(example_folder("predictive-maintenance"))
        example.present(example.quickstart(home, data, serve=serve, port=port, console=console), console)
