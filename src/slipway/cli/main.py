"""``slipway``: the command line. One sub-command group per noun (``slipway <noun> <verb>``).

User mistakes print one line and exit with code 2; nothing prints a traceback for them.
"""

from __future__ import annotations

import importlib
import sys

import typer

from slipway.cli.output import fail
from slipway.core.errors import SlipwayError

app = typer.Typer(name="slipway", help="Slipway: data, experiments, registry, governance, pipelines and serving in one system.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)



@app.callback()
def root() -> None:
    """Slipway: data, experiments, registry, governance, pipelines and serving in one system."""


# noun -> module holding a Typer ``app`` (groups) or a ``register(app)`` function (top-level commands).
GROUPS = {
    "experiments": "slipway.cli.experiments",
    "runs": "slipway.cli.runs",
    "audit": "slipway.cli.audit",
    "users": "slipway.cli.users",
    "data": "slipway.cli.data",
    "models": "slipway.cli.models",
    "governance": "slipway.cli.governance",
    "lineage": "slipway.cli.lineage",
    "pipelines": "slipway.cli.pipelines",
    "deploy": "slipway.cli.deploy",
}
COMMANDS = ["slipway.cli.server", "slipway.cli.maintenance", "slipway.cli.serve", "slipway.cli.quickstart",
            "slipway.cli.scheduler"]


def _load(module_name: str) -> object | None:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name == module_name:
            return None
        raise


for noun, module_name in GROUPS.items():
    module = _load(module_name)
    if module is not None:
        app.add_typer(module.app, name=noun)  # type: ignore[attr-defined]
for module_name in COMMANDS:
    module = _load(module_name)
    if module is not None:
        module.register(app)  # type: ignore[attr-defined]


def main() -> None:
    try:
        app()
    except SlipwayError as err:
        fail(err)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
