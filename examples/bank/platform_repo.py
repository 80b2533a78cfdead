"""The platform team's Git repository: the example's ``platform-repo/`` folder, committed in three
steps (the teams' projects and role bindings; then the shared features, pipelines, policies and
webhooks; then, once the product teams have champions, the deployments and monitors) and applied with ``slipway apply`` (``slipway.gitops``),
which records the commit it applied."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from slipway import Workspace
from slipway.gitops.plan import PlatformPlan, apply, plan

TEMPLATE = Path(__file__).resolve().parent / "platform-repo"
ACCESS = ["README.md", "access.yaml"]
FIRST = [*ACCESS, "features/bank.py", "pipelines/fraud.py", "pipelines/credit.py", "policies.yaml",
         "pipelines.yaml", "webhooks.yaml"]
SECOND = ["serving.yaml"]
WEBHOOK_SECRET = "BANK_ALERTS_WEBHOOK_SECRET"
GIT = ["git", "-c", "user.name=Platform Team", "-c", "user.email=platform@bank.example", "-c", "commit.gpgsign=false",
       "-c", "init.defaultBranch=main"]


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit(repo: Path, files: list[str], message: str) -> tuple[str, bool]:
    """Copy ``files`` from the template into ``repo`` (a Git repository made on first use) and commit
    them if anything changed; returns (HEAD, committed)."""
    if not (repo / ".git").is_dir():
        repo.mkdir(parents=True, exist_ok=True)
        _git(repo, "init", "-q")
    for name in files:
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATE / name, target)
    (repo / ".gitignore").write_text("__pycache__/\n")
    _git(repo, "add", "-A")
    changed = bool(_git(repo, "status", "--porcelain"))
    if changed:
        _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD"), changed


def apply_platform(ws: Workspace, repo: Path) -> tuple[PlatformPlan, PlatformPlan]:
    """Apply the folder, then plan it again: (what was applied, the plan afterwards, which must be
    empty). The webhook's secret comes from the environment, as in a CI job (a demo value here)."""
    os.environ.setdefault(WEBHOOK_SECRET, "demo-secret-not-for-production-0123456789")
    applied = apply(ws, str(repo))
    again = plan(ws, str(repo))
    return applied, again
