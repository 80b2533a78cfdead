"""``slipway quickstart``: runs the predictive-maintenance example (examples/predictive_maintenance/run.py),
from raw data to a retrained canary, in one command."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import typer

from slipway.cli.output import console
from slipway.core.errors import NotFound

# A clone has the example beside src/: <repo>/examples/predictive_maintenance.
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "predictive_maintenance"


def load_example(folder: Path = EXAMPLE) -> ModuleType:
    """The example's ``run.py`` as a module (its folder goes on ``sys.path`` for its own modules).

    Raises:
        NotFound: the example is not there (the quickstart runs from a clone of the repository).
    """
    script = folder / "run.py"
    if not script.is_file():
        raise NotFound(f"the example project is not at {folder} (run the quickstart from a full clone of the "
                       "repository)")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("slipway_example_predictive_maintenance", script)
    if spec is None or spec.loader is None:
        raise NotFound(f"cannot load {script}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
        example = load_example()
        example.present(example.quickstart(home, data, serve=serve, port=port, console=console), console)
