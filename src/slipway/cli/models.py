"""``slipway models ls|show|versions|register|alias|load-check|reproduce``."""

from __future__ import annotations

import time

import typer

from slipway.cli.context import workspace
from slipway.cli.output import JsonOption, console, err_console, field, print_json, show
from slipway.core.clock import iso
from slipway.core.errors import InvalidInput
from slipway.registry.records import ModelVersion, RegisteredModel

app = typer.Typer(help="The model registry: models, versions, aliases, loading and reproducing.", no_args_is_help=True)


def _model_rows(models: list[RegisteredModel]) -> list[tuple[object, ...]]:
    return [(m.name, m.latest_version or "", ", ".join(f"{a}→{v}" for a, v in m.aliases.items()), m.owner,
             m.risk_tier, iso(m.updated_ms)) for m in models]


def _version_rows(versions: list[ModelVersion]) -> list[tuple[object, ...]]:
    return [(v.version, v.state, ", ".join(v.aliases), v.flavor, v.run_id or "", v.bundle_digest[:16],
             iso(v.created_ms)) for v in versions]


VERSION_COLUMNS = ["version", "state", "aliases", "flavor", "run", "bundle", "created"]


@app.command("ls")
def list_models(
    name: str = typer.Option(None, "--name", help="Only names matching this pattern (e.g. 'churn*')."),
    tag: list[str] = typer.Option(None, "--tag", help="Only models with this tag, as KEY=VALUE; repeatable."),
    as_json: bool = JsonOption,
) -> None:
    """List registered models with their latest version and aliases."""
    tags = {}
    for item in tag or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"--tag {item!r} must be KEY=VALUE")
        tags[key] = value
    registry = workspace().registry
    models = registry.search_models(name, tags or None) if (name or tags) else registry.list_models()
    show(models, as_json, "Registered models", ["name", "latest", "aliases", "owner", "risk", "updated"],
         _model_rows(models))


@app.command("create")
def create(
    name: str,
    description: str = typer.Option("", "--description", "-d"),
    owner: str = typer.Option(None, "--owner", help="The accountable person (default: you)."),
    risk_tier: str = typer.Option("low", "--risk-tier", help="Sets how many approvers a version needs."),
    as_json: bool = JsonOption,
) -> None:
    """Create a registered model before its first version (to set its owner, risk tier and policy)."""
    model = workspace().registry.create_model(name, description, owner, risk_tier)
    print_json(model) if as_json else console.print(f"Created model {model.name} (owner {model.owner}, risk tier "
                                                     f"{model.risk_tier})", highlight=False)


@app.command("show")
def show_model(
    ref: str = typer.Argument(..., help="A model name, or a version: NAME/3, NAME@alias."),
    as_json: bool = JsonOption,
) -> None:
    """Show a registered model (with its versions) or one version."""
    registry = workspace().registry
    if "/" in ref or "@" in ref:
        version = registry.resolve(ref)
        if as_json:
            print_json(version)
            return
        for key in ("name", "version", "state", "aliases", "flavor", "run_id", "artifact_path", "bundle_digest",
                    "created_by", "description"):
            field(key, getattr(version, key))
        field("created", iso(version.created_ms))
        field("inputs", version.signature.get('inputs', []))
        field("metrics", version.metrics)
        field("params", version.params)
        field("datasets", version.datasets)
        return
    model = registry.get_model(ref)
    versions = registry.list_versions(ref)
    if as_json:
        print_json({"model": model, "versions": versions})
        return
    show(model, False, f"Model {model.name}", ["name", "latest", "aliases", "owner", "risk", "updated"],
         _model_rows([model]))
    if model.description:
        console.print(model.description, highlight=False)
    show(versions, False, "Versions", VERSION_COLUMNS, _version_rows(versions))


@app.command("versions")
def list_versions(name: str = typer.Argument(..., help="The registered model."), as_json: bool = JsonOption) -> None:
    """List a model's versions, newest first."""
    versions = workspace().registry.list_versions(name)
    show(versions, as_json, f"Versions of {name}", VERSION_COLUMNS, _version_rows(versions))


@app.command("register")
def register(
    name: str = typer.Argument(..., help="The registered model (created if missing)."),
    run_id: str = typer.Argument(..., help="The run that logged the model."),
    path: str = typer.Option("model", "--path", help="The model's artifact path in the run."),
    description: str = typer.Option("", "--description", help="What is new in this version."),
    as_json: bool = JsonOption,
) -> None:
    """Register a run's model bundle as the next version of NAME."""
    version = workspace().registry.register_version(name, run_id, path, description)
    if as_json:
        print_json(version)
    else:
        console.print(f"registered {version.ref} (bundle {version.bundle_digest})", highlight=False)


@app.command("alias")
def alias(
    name: str = typer.Argument(..., help="The registered model."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="e.g. champion, challenger."),
    version: int = typer.Argument(None, help="The version to point at (omit with --delete)."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias instead."),
    as_json: bool = JsonOption,
) -> None:
    """Point ALIAS at VERSION (or remove it with --delete)."""
    registry = workspace().registry
    if delete:
        registry.delete_alias(name, alias_name)
        console.print(f"removed alias {name}@{alias_name}", highlight=False)
        return
    if version is None:
        raise InvalidInput("give the VERSION the alias should point at, or --delete")
    moved = registry.set_alias(name, alias_name, version)
    if as_json:
        print_json(moved)
    else:
        console.print(f"{name}@{alias_name} → version {moved.version}", highlight=False)


@app.command("load-check")
def load_check(ref: str = typer.Argument(..., help="NAME@alias, NAME/3 or models:/…"), as_json: bool = JsonOption) -> None:
    """Load a model, check its bundle digest against the ledger's registration event, verify every
    bundle file against it, and predict its stored input example. Exit code 1 if the row was changed."""
    ws = workspace()
    version = ws.registry.resolve(ref)
    # The digest in the version row could have been pointed at another bundle; the ledger's
    # registration event says which bundle this version really is.
    recorded = ws.audit.recorded_bundle(version.name, version.version)
    if recorded["bundle_digest"] != version.bundle_digest:
        err_console.print(f"[bold red]not verified[/]: {version.ref} points at bundle {version.bundle_digest} but the "
                          f"audit ledger recorded bundle {recorded['bundle_digest']} at its registration (event "
                          f"{recorded['seq']}); run 'slipway audit verify'", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    started = time.perf_counter()
    predictor = ws.registry.load(version.ref)
    load_ms = (time.perf_counter() - started) * 1000
    example = predictor.input_example()
    rows = None
    if example is not None:
        rows = len(predictor.predict(example))
    report = {"ref": ref, "version": predictor.ref, "flavor": predictor.flavor, "bundle_digest": predictor.bundle_digest,
              "verified": True, "load_ms": round(load_ms, 2), "example_rows_predicted": rows}
    if as_json:
        print_json(report)
        return
    console.print(f"{ref} → {predictor.ref}: {predictor.flavor} bundle {predictor.bundle_digest} verified, "
                  f"loaded in {load_ms:.1f} ms", highlight=False)
    console.print("no input example stored" if rows is None else f"predicted the stored input example ({rows} rows)",
                  highlight=False)


@app.command("reproduce")
def reproduce(
    ref: str = typer.Argument(..., help="NAME/VERSION or NAME@alias."),
    run: bool = typer.Option(False, "--run", help="Re-execute the run's command line at its commit against this "
                                                  "store, with the data it read pinned, and compare."),
    show_lock: bool = typer.Option(False, "--lock", help="Print the full package lock."),
    as_json: bool = JsonOption,
) -> None:
    """Print what rebuilding a version needs (commit, packages, params, data); --run re-executes
    it and compares the new run with the original (exit 1 if the re-run fails or differs)."""
    if run:
        _reproduce_run(ref, as_json)
        return
    info = workspace().registry.reproduce_info(ref)
    if as_json:
        print_json(info)
    else:
        console.print(f"[bold]model[/]: {info.name}/{info.version} (bundle {info.bundle_digest})", highlight=False)
        console.print(f"[bold]run[/]: {info.run_id} in experiment {info.experiment}", highlight=False)
        dirty = "unknown" if info.git_dirty is None else ("yes: uncommitted changes were present" if info.git_dirty else "no")
        console.print(f"[bold]git commit[/]: {info.git_commit or 'none recorded'} (dirty: {dirty})", highlight=False)
        console.print(f"[bold]entry point[/]: {info.source or 'none recorded'}", highlight=False)
        console.print(f"[bold]packages digest[/]: {info.packages_digest}", highlight=False)
        console.print(f"[bold]params[/]: {info.params}", highlight=False)
        console.print(f"[bold]datasets[/]: {info.datasets}", highlight=False)
        if info.packages_lock:
            lines = info.packages_lock.splitlines()
            console.print(f"[bold]packages[/] ({len(lines)}):", highlight=False)
            console.print("\n".join(lines if show_lock else lines[:10] + (["…  (--lock for all)"] if len(lines) > 10 else [])),
                          highlight=False)


def _reproduce_run(ref: str, as_json: bool) -> None:
    from slipway.cli.output import fail, print_table

    registry = workspace().registry
    info = registry.reproduce_info(ref)
    if not as_json:
        console.print(f"re-running run {info.run_id} of {info.name}/{info.version}", highlight=False, soft_wrap=True)
        console.print(f"git commit: {info.git_commit}", highlight=False, soft_wrap=True)
        if info.git_dirty:
            console.print("warning: the run's work tree had uncommitted changes; the commit may differ from what ran",
                          style="yellow")
    result = registry.reproduce(ref)
    if as_json:
        print_json({"reproduction": result, "matches": result.matches})
    else:
        console.print(result.output.rstrip(), highlight=False, markup=False)
        if result.exit_code == 0 and result.errors.strip():
            console.print(result.errors.rstrip(), highlight=False, markup=False, style="dim")
        rows = [(c["kind"], _cell(c["key"]), _cell(c["original"]), _cell(c["reproduced"]), "yes" if c["same"] else "NO")
                for c in result.comparisons]
        if rows:
            print_table(f"run {result.original_run} vs its re-run {result.reproduced_run}",
                        ["kind", "key", "original", "re-run", "same"], rows)
    if result.exit_code != 0:
        # The script's own traceback stays out of the terminal (it is in --json's "errors"); its
        # last line names what went wrong.
        last = next((line for line in reversed(result.errors.splitlines()) if line.strip()), "")
        fail(f"the re-run of run {result.original_run} exited with code {result.exit_code}" + (f": {last.strip()}" if last else ""), 1)
    if result.reproduced_run is None:
        fail(f"the re-run of run {result.original_run} finished but started no tracking run to compare", 1)
    differing = [f"{c['kind']} {c['key']}" for c in result.comparisons if not c["same"]]
    if differing:
        fail(f"the re-run {result.reproduced_run} differs from run {result.original_run} in: {', '.join(differing)}", 1)
    if not as_json:
        console.print(f"reproduced: run {result.reproduced_run} matches run {result.original_run} "
                      f"({len(result.comparisons)} params, metrics and inputs)", highlight=False, soft_wrap=True)


def _cell(value: object) -> str:
    from rich.markup import escape

    return "—" if value is None else escape(str(value))
