"""``slipway quickstart``: predictive maintenance from raw data to a retrained canary, in one command."""

from __future__ import annotations

from pathlib import Path

import typer

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
        """Run the predictive-maintenance example end to end on the embedded default.

        Versions the AI4I history, validates and trains with tracking, blesses, registers, approves
        under the four-eyes rule, deploys and serves real requests; then a new week of data
        triggers a retrain whose canary the controller promotes or rolls back. Run it again in
        the same home and it reuses what is there.
        """
        from slipway.cli.output import fail
        from slipway.quickstart import QuickstartOptions, run_quickstart
        from slipway.quickstart.summary import print_summary

        if not 0 <= port < 65536:
            fail(f"--port must be from 0 to 65535, got {port}")
        outcome = run_quickstart(QuickstartOptions(home=home, data=data, serve=serve, port=port), console)
        print_summary(outcome, console)
        if outcome.server is not None:
            console.print(f"\nServing on [bold]{outcome.server.url}[/] - Ctrl-C to stop.", highlight=False)
            try:
                outcome.server.wait()
            except KeyboardInterrupt:
                outcome.server.stop()
