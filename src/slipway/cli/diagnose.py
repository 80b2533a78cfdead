"""``slipway diagnose DEPLOYMENT``: walk the monitoring loop and print the verdict, its evidence and
the one command that carries out the recommended action."""

from __future__ import annotations

import typer

from slipway.cli.output import JsonOption, print_json, print_table, say


def register(app: typer.Typer) -> None:
    @app.command("diagnose")
    def diagnose(
        deployment: str = typer.Argument(..., help="The deployment whose served model to diagnose."),
        window: str = typer.Option(None, "--window", help="The last N rows (1000) or duration (30m, 24h, 7d) of "
                                   "the payload log; all logged rows by default."),
        rollback: bool = typer.Option(False, "--rollback", help="Roll the deployment back to its previous champion "
                                      "(drop its canary, or re-deploy the version its last promotion replaced)."),
        target: str = typer.Option(None, "--target", help="The training data's label column for the performance "
                                   "step (default: the run's target/label parameter, else the column the model "
                                   "predicts)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Serving health, input schema, data quality, feature drift weighted by importance,
        prediction drift, performance; then the verdict and the recommended action."""
        from slipway.cli.context import workspace

        ws = workspace()
        if rollback:
            from slipway.monitoring.deploy_actions import roll_back

            outcome = roll_back(ws, deployment, "slipway diagnose --rollback")
            print_json(outcome) if as_json else say(f"{deployment}: {', '.join(outcome['from'])} -> "
                                                    f"{', '.join(outcome['to'])} ({outcome['mode']})")
            return
        result = ws.monitoring.diagnose(deployment, window, target=target)
        if as_json:
            print_json(result.to_json())
            return
        print_table(f"diagnosis of {deployment} (serving {result.served}, trained on {result.reference}, "
                    f"{result.window['rows']} rows)", ["step", "status", "finding"],
                    [[s.name, s.status, s.summary] for s in result.steps])
        say(f"verdict: {result.verdict}")
        for line in result.evidence:
            say(f"  - {line}")
        say(f"recommended: {result.action}" + (f"\n  {result.command}" if result.command else ""))
