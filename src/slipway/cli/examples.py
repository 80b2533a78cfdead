"""``slipway example NAME [OPTIONS]``: run one of the example projects end to end; ``slipway
example list`` names them.

The examples are the repository's ``examples/`` folder. The package reaches it as
``slipway/examples``: a link to that folder in a clone (an editable install included) and a copy
of it in a built wheel (``pyproject.toml``'s package data), so an installed Slipway runs them
too. Their datasets are not shipped: from a clone they are found beside the repository
(``../shared/data``); elsewhere pass ``--data``. Options after the name go to the example's
``run.py`` (``slipway example recommendation --home DIR --worse-canary``).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import typer

from slipway.core.errors import NotFound

FOLDER = Path(__file__).resolve().parents[1] / "examples"
# name -> (folder under examples/, what it shows)
EXAMPLES = {
    "predictive-maintenance": ("predictive_maintenance", "AI4I sensor data: versioned data, tracked training, gate, "
                               "four-eyes approval, serving, a retrained canary and a drift monitor (= slipway "
                               "quickstart)"),
    "recommendation": ("recommendation", "MovieLens ratings: weekly retraining of an ALS recommender, a 5 % canary "
                       "by user judged on click-through rate, Prometheus and its CTR-drop alert"),
    "bank": ("bank", "A bank's platform: simulated card transactions and German credit, shared feature views applied "
             "from Git, fraud and credit teams, a fairness gate, sign-off through ServiceNow changes, canaries, "
             "monitors and evidence packs"),
}


def example_folder(name: str) -> Path:
    """The folder of example ``name`` (a key of :data:`EXAMPLES`).

    Raises:
        NotFound: the example's files are not there (a wheel built without them).
    """
    folder = FOLDER / EXAMPLES[name][0]
    if not (folder / "run.py").is_file():
        raise NotFound(f"the example {name!r} is not at {folder}; run it from a clone of the repository "
                       "(examples/) or install a build of Slipway that ships it")
    return folder


def load_example(folder: Path) -> ModuleType:
    """The example's ``run.py`` as a module (its folder goes first on ``sys.path`` for its own modules).

    Raises:
        NotFound: there is no ``run.py`` in ``folder``.
    """
    script = folder / "run.py"
    if not script.is_file():
        raise NotFound(f"the example project is not at {folder} (no run.py)")
    # The examples' own modules have plain names (drops, traffic...): this example's come first,
    # and another example's loaded in this process earlier are forgotten.
    for stem in (path.stem for path in folder.glob("*.py")):
        loaded = sys.modules.get(stem)
        if loaded is not None and Path(getattr(loaded, "__file__", None) or "").resolve().parent != folder.resolve():
            del sys.modules[stem]
    if str(folder) in sys.path:
        sys.path.remove(str(folder))
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"slipway_example_{folder.name}", script)
    if spec is None or spec.loader is None:
        raise NotFound(f"cannot load {script}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _list(as_json: bool) -> None:
    from slipway.cli.output import console

    rows = [{"name": name, "folder": str(FOLDER / sub), "description": what} for name, (sub, what) in EXAMPLES.items()]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    for row in rows:
        console.print(f"[bold]{row['name']}[/]  {row['description']}\n    {row['folder']}", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("example", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def example(ctx: typer.Context,
                name: str = typer.Argument(..., help="The example to run (see 'slipway example list'), or 'list'.")) -> None:
        """Run an example project end to end (options after NAME go to its run.py), or list them.

        slipway example recommendation [--home DIR] [--worse-canary] [--screenshot PNG];
        slipway example predictive-maintenance [--home DIR] (the quickstart); slipway example bank [--home DIR]
        [--small]; slipway example list [--json].
        """
        from slipway.cli.output import fail

        if name == "list":
            unknown = [a for a in ctx.args if a != "--json"]
            if unknown:
                fail(f"slipway example list takes only --json, got {' '.join(unknown)}")
            _list("--json" in ctx.args)
            return
        if name not in EXAMPLES:
            fail(f"unknown example {name!r}; the examples are {', '.join(EXAMPLES)} (see 'slipway example list')")
        module = load_example(example_folder(name))
        code = module.main(list(ctx.args))
        if code:
            raise typer.Exit(int(code))
