"""The teams are isolated by their projects: each team's user is refused on the other team's model,
runs and deployment (a ``PermissionDenied`` naming the missing permission and the project) from
Python and from the CLI; both read the shared features; the platform admin sees everything."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from teams import PEOPLE, Bank

from slipway import PermissionDenied, Workspace

OTHER = {"fiona": "credit", "carl": "fraud"}  # each product team's user -> the other team's model


def _attempts(ws: Workspace, model: str, run_id: str) -> dict[str, Callable[[], Any]]:
    return {f"registry.get_model({model!r})": lambda: ws.registry.get_model(model),
            f"registry.list_versions({model!r})": lambda: ws.registry.list_versions(model),
            f"registry.resolve('{model}@champion')": lambda: ws.registry.resolve(f"{model}@champion"),
            f"tracking.get_run({run_id[:8]}…)": lambda: ws.tracking.get_run(run_id),
            f"serving.get('{model}-prod')": lambda: ws.serving.get(f"{model}-prod"),
            f"serving.rollback('{model}-prod')": lambda: ws.serving.rollback(f"{model}-prod", "not mine")}


def cli_as(home: Path, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``slipway ARGS`` as ``user`` (their signing key, their project) in a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    env.update(SLIPWAY_HOME=str(home), SLIPWAY_CONFIG=str(home / "slipway.toml"), SLIPWAY_USER=user,
               SLIPWAY_SIGNING_KEY=str(home / "keys" / user), SLIPWAY_PROJECT=PEOPLE[user][1])
    return subprocess.run([sys.executable, "-m", "slipway.cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def show_isolation(bank: Bank, home: Path, say: Callable[[str], None]) -> dict[str, Any]:
    """Try every crossing; raise SystemExit if one is allowed. Returns what each user was told."""
    result: dict[str, Any] = {}
    for user, model in OTHER.items():
        ws = bank[user]
        champion = bank.admin.registry.resolve(f"{model}@champion")
        refusals: dict[str, str] = {}
        for what, attempt in _attempts(ws, model, str(champion.run_id)).items():
            try:
                attempt()
            except PermissionDenied as err:
                refusals[what] = err.message
                continue
            raise SystemExit(f"{user} was allowed {what} on the {model} team's project")
        say(f"{user} ({PEOPLE[user][0]} team) on the {model} team's model, runs and deployment: "
            f"{len(refusals)} of {len(refusals)} refused, e.g. {next(iter(refusals.values()))}")
        listed = [m.name for m in ws.registry.list_models()]
        cli = cli_as(home, user, "models", "versions", model)
        if cli.returncode == 0:
            raise SystemExit(f"`slipway models versions {model}` as {user} succeeded")
        say(f"  `slipway models versions {model}` as {user}: exit {cli.returncode}: {cli.stderr.strip()}")
        views = sorted(d.name for d in ws.features.definitions() if d.kind == "feature_view")
        say(f"  {user} lists the models {listed} and reads the shared feature views {views}")
        result[user] = {"refused": refusals, "cli": {"exit": cli.returncode, "error": cli.stderr.strip()},
                        "models": listed, "feature_views": views}
    admin = bank["platform-ci"]
    everything = {"models": sorted(m.name for m in admin.registry.list_models()),
                  "deployments": sorted(d.name for d in admin.serving.list_deployments())}
    say(f"platform-ci (platform admin) sees every project: models {everything['models']}, deployments "
        f"{everything['deployments']}")
    result["platform-ci"] = everything
    return result
