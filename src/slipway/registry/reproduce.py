"""Rebuilding a model version: what it was built from, and re-running its entry point.

``reproduce_info`` gathers the run's git commit and dirty flag, the packages digest and lock text
(stored as a blob when the run started), params and dataset versions. ``rerun`` checks that commit
out in a temporary git worktree and runs the recorded entry point there with this interpreter.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import Connection, select

from slipway.blobs.store import BlobStore
from slipway.core.errors import Conflict, NotFound
from slipway.registry.records import ModelVersion, ReproduceInfo
from slipway.store.schema.tracking import experiments, runs


def reproduce_info(conn: Connection, blobs: BlobStore, version: ModelVersion) -> ReproduceInfo:
    run = None
    if version.run_id is not None:
        run = conn.execute(select(runs, experiments.c.name.label("experiment_name"))
                           .join(experiments, experiments.c.id == runs.c.experiment_id)
                           .where(runs.c.id == version.run_id)).first()
    lock_text = None
    if run is not None and run.packages_digest:
        try:
            lock_text = blobs.read_bytes(run.packages_digest).decode()
        except NotFound:
            lock_text = None
    return ReproduceInfo(
        version.name, version.version, version.run_id, run.experiment_name if run else None,
        run.git_commit if run else None, run.git_dirty if run else None, run.source if run else None,
        run.packages_digest if run else None, lock_text, version.params, version.datasets, version.bundle_digest,
    )


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def entry_command(info: ReproduceInfo, repo_root: Path, worktree: Path) -> list[str]:
    """The recorded entry point as a command that runs inside ``worktree``."""
    source = (info.source or "").strip()
    if not source or source == "interactive" or source.startswith("-c"):
        raise Conflict(f"run {info.run_id} was started from an interactive session; there is no script to re-run")
    argv = shlex.split(source)
    script = Path(argv[0])
    if script.is_absolute():
        try:
            relative = script.resolve().relative_to(repo_root.resolve())
        except ValueError as err:
            raise Conflict(f"the entry point {script} of run {info.run_id} is outside the git repository "
                           f"{repo_root}; cannot re-run it from the recorded commit") from err
    else:
        relative = script
    target = worktree / relative
    if not target.is_file():
        raise Conflict(f"the entry point {relative} of run {info.run_id} is not in commit {info.git_commit}")
    return [sys.executable, str(target), *argv[1:]]


def rerun(info: ReproduceInfo, repo: str | os.PathLike[str] = ".") -> int:
    """Re-execute the run's entry point at its commit in a temporary worktree; returns its exit code.

    Raises:
        Conflict: the run has no commit, the commit is not in ``repo``, or there is no script to run.
    """
    if not info.git_commit:
        raise Conflict(f"run {info.run_id} did not record a git commit (it ran outside a git repository); "
                       "its code is not available to re-run")
    top = _git(["rev-parse", "--show-toplevel"], Path(repo))
    if top.returncode != 0:
        raise Conflict(f"{os.path.abspath(repo)} is not inside a git repository; run this from the model's repository")
    root = Path(top.stdout.strip())
    if _git(["cat-file", "-e", f"{info.git_commit}^{{commit}}"], root).returncode != 0:
        raise Conflict(f"commit {info.git_commit} of run {info.run_id} is not in the repository at {root}; fetch it first")
    with tempfile.TemporaryDirectory(prefix="slipway-reproduce-") as tmp:
        worktree = Path(tmp) / "code"
        added = _git(["worktree", "add", "--detach", str(worktree), info.git_commit], root)
        if added.returncode != 0:
            raise Conflict(f"cannot check out commit {info.git_commit}: {added.stderr.strip()}")
        try:
            command = entry_command(info, root, worktree)
            return subprocess.run(command, cwd=worktree, check=False).returncode
        finally:
            _git(["worktree", "remove", "--force", str(worktree)], root)
