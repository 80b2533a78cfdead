"""``slipway apply FOLDER [--prune] [--check] [--dry-run]``: GitOps for a platform folder; and
``slipway argocd FOLDER OUT --env NAME --repo-url URL``: its Argo CD Application and manifests.

Shows the plan (add, change, delete per object, with a diff), then applies it unless
``--dry-run`` or ``--check``. ``--check`` exits 1 when the live platform has drifted from the
folder (for a CI job); bad input exits 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

from slipway.cli.output import JsonOption, console, print_json

MARKS = {"add": "[green]+[/]", "change": "[yellow]~[/]", "delete": "[red]-[/]", "extra": "[magenta]?[/]"}


def _print_plan(result, verbose: bool) -> None:
    where = f"{result.folder} at {result.commit[:12] if result.commit else '(not in Git)'}"
    console.print(f"platform folder {where}{' (uncommitted changes)' if result.dirty else ''}", highlight=False)
    if result.dirty:
        console.print("[yellow]warning:[/] the folder has uncommitted changes: what is applied is not commit "
                      f"{result.commit[:12] if result.commit else '?'} (the audit ledger records it as dirty); commit "
                      "first", highlight=False)
    shown = [i for i in result.items if i.action != "unchanged" or verbose]
    for item in shown:
        note = f"  ({item.note})" if item.note else ""
        console.print(f"{MARKS.get(item.action, ' ')} {item.kind} {item.name}: {item.action}{note}", highlight=False)
        for line in item.diff:
            console.print(f"      {line}", highlight=False, markup=False)
    counts = {a: sum(i.action == a for i in result.items) for a in ("add", "change", "delete", "extra", "unchanged")}
    console.print(", ".join(f"{n} to {a}" if a in ("add", "change", "delete") else f"{n} {a}"
                            for a, n in counts.items()), highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("apply")
    def apply(
        folder: Path = typer.Argument(..., help="A platform folder (projects, role bindings, deployments, monitors, "
                                      "schedules, triggers, webhooks, policies as YAML; features/ as a feature "
                                      "repository)."),
        prune: bool = typer.Option(False, "--prune", help="Delete what the folder no longer declares (any kind; the plan lists deletes first)."),
        check: bool = typer.Option(False, "--check", help="Only compare: exit 1 when the live state drifted."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; change nothing."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="List unchanged objects too."),
        as_json: bool = JsonOption,
    ) -> None:
        """Make the platform match a folder kept in Git: plan, diff, apply idempotently, and record
        the folder's commit in the audit ledger."""
        from slipway.cli.context import workspace
        from slipway.gitops import plan as gitops

        ws = workspace()
        if check or dry_run:
            result = gitops.plan(ws, str(folder), prune)
        else:
            result = gitops.apply(ws, str(folder), prune)
        if as_json:
            print_json(result.as_dict())
        else:
            _print_plan(result, verbose)
            if result.applied:
                console.print(f"applied {len(result.pending)} change(s)" if result.pending else "nothing to change",
                              highlight=False)
        if check and result.drifted:
            raise typer.Exit(1)

    @app.command("argocd")
    def argocd(
        folder: Path = typer.Argument(..., help="The platform folder (as `slipway apply` takes it)."),
        out: Path = typer.Argument(..., help="Where <env>.yaml and <env>/ are written (e.g. deploy/argocd)."),
        env: str = typer.Option(..., "--env", help="The environment: staging, production, …"),
        repo_url: str = typer.Option(..., "--repo-url", help="The Git repository holding the folder and OUT."),
        revision: str = typer.Option("main", help="The branch or tag the environment follows."),
        manifests_path: str = typer.Option("", "--manifests-path", help="OUT relative to the repository's root "
                                           "(default: found with git)."),
        platform_path: str = typer.Option("", "--platform-path", help="FOLDER relative to the repository's root "
                                          "(default: found with git)."),
        namespace: str = typer.Option("", help="The namespace it runs in (default slipway-ENV)."),
        target: str = typer.Option("kubernetes", help="kubernetes (Deployment + Service) or kserve."),
        image: str = typer.Option("slipway-serve:0.1.0", help="The image the apply Job and the servers run."),
        manual: bool = typer.Option(False, "--manual", help="No automated sync: a person syncs in Argo CD."),
    ) -> None:
        """Render an Argo CD Application for one environment and what it syncs: a PreSync Job running
        `slipway apply --prune` on the folder, and the manifests of every deployment it declares."""
        from slipway.gitops.argocd import ArgoEnvironment, repository_path, write_environment

        environment = ArgoEnvironment(env, repo_url, revision, manifests_path or repository_path(out),
                                      platform_path or repository_path(folder), namespace, target, image, not manual)
        for path in write_environment(folder, environment, out):
            console.print(f"wrote {path}", highlight=False)
