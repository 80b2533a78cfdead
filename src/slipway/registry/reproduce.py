"""Rebuilding a model version: what it was built from, and re-running its entry point.

``reproduce_info`` gathers the run's git commit and dirty flag, the packages digest and lock text
(stored as a blob when the run started), params and dataset versions. ``rerun`` checks that commit
out in a temporary git worktree and runs the recorded command line there with this interpreter
(a script, or ``slipway pipelines run …`` for a model a pipeline made), from the worktree's
counterpart of the current folder, against the same store (never one the worktree's own config
would open), with every dataset the run read pinned to the version it read; pipeline steps are
recomputed, not served from the cache. ``compare_runs`` sets the re-run beside the original.
"""

from __future__ import annotations

import math
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from slipway.blobs.store import BlobStore
from slipway.core.environment import environment
from slipway.core.errors import Conflict, NotFound
from slipway.core.settings import Settings
from slipway.registry.records import ModelVersion, ReproduceInfo
from slipway.tracking.facts import run_with_experiment

SOURCE_MAX = 500  # the length the runs table keeps of a command line


def reproduce_info(conn: Connection, blobs: BlobStore, version: ModelVersion) -> ReproduceInfo:
    run = None
    if version.run_id is not None:
        run = run_with_experiment(conn, version.run_id)
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
    """The recorded command line (script and arguments) as a command that runs inside ``worktree``."""
    source = (info.source or "").strip()
    if not source or source == "interactive" or source.startswith("-c"):
        raise Conflict(f"run {info.run_id} was started from an interactive session; there is no script to re-run")
    if len(source) >= SOURCE_MAX:
        raise Conflict(f"the command line of run {info.run_id} was longer than {SOURCE_MAX} characters and was "
                       "not recorded whole; its arguments cannot be replayed")
    try:
        argv = shlex.split(source)
    except ValueError as err:
        raise Conflict(f"the command line of run {info.run_id} cannot be split into arguments: {err}") from err
    script = Path(argv[0])
    if _is_slipway_cli(script):
        # `slipway pipelines run FILE:NAME -p …`: the same command, with this installation's CLI.
        return [sys.executable, "-m", "slipway.cli.main", *argv[1:]]
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


def _is_slipway_cli(script: Path) -> bool:
    """Whether the recorded program is Slipway's own CLI (its console script or ``-m slipway.cli.main``)."""
    return script.name == "slipway" or script.as_posix().endswith("slipway/cli/main.py")


def rerun_folder(root: Path, worktree: Path, here: Path) -> Path:
    """The worktree's counterpart of ``here`` (re-run from the folder you trained in, so relative
    paths in the command line mean what they meant), or the worktree's top."""
    try:
        folder = worktree / here.resolve().relative_to(root.resolve())
    except ValueError:
        return worktree
    return folder if folder.is_dir() else worktree


def dataset_pins(info: ReproduceInfo) -> list[str]:
    """``name@version`` for each dataset the run read; a dataset read at two versions is pinned to
    its ``training`` one (a name without a version means the data the model was trained on)."""
    chosen: dict[str, dict[str, Any]] = {}
    for item in info.datasets:
        if item.get("version") is None:
            continue
        earlier = chosen.get(item["dataset"])
        if earlier is None or (item.get("context") == "training" and earlier.get("context") != "training"):
            chosen[item["dataset"]] = item
    return [f"{name}@{item['version']}" for name, item in sorted(chosen.items())]


def rerun_environment(info: ReproduceInfo, settings: Settings) -> dict[str, str]:
    """This process's environment, pointing the re-run at the same store (by absolute location,
    so a config file in the checked-out commit cannot point it elsewhere) with its data pinned."""
    env = dict(environment())
    if settings.remote:
        env["SLIPWAY_SERVER_URL"] = settings.server_url
        if settings.token:
            env["SLIPWAY_TOKEN"] = settings.token
    else:
        env.pop("SLIPWAY_SERVER_URL", None)
        env["SLIPWAY_HOME"] = str(Path(settings.home).resolve())
        env["SLIPWAY_STORE_URI"] = settings.resolved_store_uri
        env["SLIPWAY_ARTIFACTS_URI"] = settings.resolved_artifacts_uri
    if settings.config_path:
        env["SLIPWAY_CONFIG"] = str(Path(settings.config_path).resolve())
    env["SLIPWAY_DATASET_PINS"] = ",".join(dataset_pins(info))
    env["SLIPWAY_REPRODUCES"] = info.run_id or ""
    return env


def rerun(info: ReproduceInfo, settings: Settings, repo: str | os.PathLike[str] = ".") -> subprocess.CompletedProcess[str]:
    """Re-execute the run's command line at its commit in a temporary worktree, against the store
    of ``settings``; returns the finished process (its output captured).

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
    env = rerun_environment(info, settings)
    with tempfile.TemporaryDirectory(prefix="slipway-reproduce-") as tmp:
        worktree = Path(tmp) / "code"
        added = _git(["worktree", "add", "--detach", str(worktree), info.git_commit], root)
        if added.returncode != 0:
            raise Conflict(f"cannot check out commit {info.git_commit}: {added.stderr.strip()}")
        try:
            command = entry_command(info, root, worktree)
            folder = rerun_folder(root, worktree, Path(repo).resolve() if repo != "." else Path.cwd())
            return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
        finally:
            _git(["worktree", "remove", "--force", str(worktree)], root)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def compare_runs(original: Any, reproduced: Any, original_inputs: list[str], reproduced_inputs: list[str]) -> list[dict[str, Any]]:
    """Each param, metric and dataset input of either run, side by side (``same`` when they agree)."""
    rows: list[dict[str, Any]] = []
    for kind, left, right in (("param", original.params, reproduced.params),
                              ("metric", original.metrics, reproduced.metrics)):
        for key in sorted(set(left) | set(right)):
            a, b = left.get(key), right.get(key)
            rows.append({"kind": kind, "key": key, "original": a, "reproduced": b, "same": _same(a, b)})
    for ref in sorted(set(original_inputs) | set(reproduced_inputs)):
        a = ref if ref in original_inputs else None
        b = ref if ref in reproduced_inputs else None
        rows.append({"kind": "dataset", "key": ref.partition("@")[0], "original": a, "reproduced": b, "same": a == b})
    return rows
