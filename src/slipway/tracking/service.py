"""``ws.tracking``: the tracking API users call, the same in embedded and remote mode.

It turns local things (files, folders, the git tree, the installed packages) into digests and
records, and hands the rest to the tracking backend (SQL in embedded mode, HTTP in remote mode).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from slipway.blobs.manifest import restore_folder, store_folder
from slipway.blobs.statcache import StatCache
from slipway.core.activity import current_activity
from slipway.core.errors import Conflict, InvalidInput, NotFound
from slipway.core.paths import normalise_relative_path
from slipway.store.context import Host
from slipway.tracking.environment import entry_point, git_state, packages_digest, packages_lock
from slipway.tracking.logger import MetricLogger
from slipway.tracking.records import (
    Experiment,
    Metric,
    MetricHistoryPage,
    Run,
    RunArtifact,
    RunComparison,
    RunInput,
    RunPage,
)
from slipway.tracking.spool import ReplayReport, replay_spools, spool_folder

if TYPE_CHECKING:
    from slipway.tracking.backend import TrackingBackend


class ActiveRun:
    """A run in progress; a context manager that ends the run (FAILED if the block raised)."""

    def __init__(self, service: TrackingService, run: Run) -> None:
        self._service = service
        self.info = run
        self.id = run.id

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._service.end_run(self.id, "FAILED" if exc_type else "FINISHED")

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.info.name!r})"


class TrackingService:
    def __init__(self, host: Host) -> None:
        self._host = host
        self._backend: TrackingBackend = host.backend("tracking")
        self._local = threading.local()
        self._logger: MetricLogger | None = None
        self._logger_lock = threading.Lock()
        self._stat_cache: StatCache | None = None
        self._replay_at_open()

    def _replay_at_open(self) -> None:
        # Points a killed process acknowledged in durable mode are written on the next open.
        if not spool_folder(self._host.settings.home).is_dir():
            return
        try:
            self.recover_metrics()
        except Exception as err:  # noqa: BLE001 - opening must not fail; the spool is kept for later
            sys.stderr.write(f"slipway: spooled metric points not replayed yet (kept for later): {err}\n")

    def recover_metrics(self) -> ReplayReport:
        """Write the spooled points of dead processes (durable mode) and delete their spool files.

        Runs by itself when the workspace's tracking service is first used; ``slipway runs
        recover`` calls it too. Points already stored are skipped, so a replay never duplicates.
        """
        report = replay_spools(spool_folder(self._host.settings.home), self._backend)
        for line in report.refused:
            sys.stderr.write(f"slipway: spooled metric points dropped, the store refuses them: {line}\n")
        return report

    def reap_stale_runs(self, stale_seconds: float | None = None) -> list[str]:
        """Mark FAILED the RUNNING runs whose process stopped sending heartbeats (see the backend)."""
        return self._backend.reap_stale_runs(stale_seconds)

    # -- the active-run stack (per thread, like MLflow) ---------------------------------------
    @property
    def _stack(self) -> list[ActiveRun]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack

    def active_run(self) -> ActiveRun | None:
        return self._stack[-1] if self._stack else None

    def _run_id(self, run_id: str | None) -> str:
        if run_id:
            return run_id
        active = self.active_run()
        if active is None:
            raise Conflict("no active run: call slipway.start_run() first or pass run_id")
        return active.id

    @property
    def logger(self) -> MetricLogger:
        with self._logger_lock:
            if self._logger is None:
                s = self._host.settings
                self._logger = MetricLogger(
                    self._backend, s.metric_batch_size, s.metric_flush_seconds, s.metric_buffer_max,
                    spool_folder=spool_folder(s.home), durable=s.metric_durable,
                    heartbeat_seconds=s.run_heartbeat_seconds)
            return self._logger

    # -- experiments and runs -----------------------------------------------------------------
    def create_experiment(self, name: str, description: str = "", *, project: str | None = None) -> Experiment:
        """Create an experiment in ``project`` (default: the workspace's, ``SLIPWAY_PROJECT``)."""
        return self._backend.create_experiment(name, description, **self._project(project))

    def _project(self, project: str | None) -> dict[str, str]:
        """``project=`` for a backend call that may create something: the one given, or the
        workspace's when it is not the default (calls in the default project stay as they were)."""
        chosen = project or self._host.settings.project
        return {"project": chosen} if chosen and chosen != "default" else {}

    def get_experiment(self, name_or_id: str) -> Experiment:
        return self._backend.get_experiment(name_or_id)

    def list_experiments(self) -> list[Experiment]:
        return self._backend.list_experiments()

    def start_run(
        self, name: str | None = None, *, experiment: str | None = None, nested: bool = False,
        tags: dict[str, str] | None = None, run_id: str | None = None, durable: bool | None = None,
        project: str | None = None,
    ) -> ActiveRun:
        """Start a run (or resume ``run_id``) and make it the active run.

        A run started while another is active must say ``nested=True``; it becomes its child.
        The git commit, dirty flag, entry point and a digest of the installed packages are recorded.
        This process sends the run's heartbeats until it ends.

        Args:
            durable: spool each metric point to a local file before ``log_metric`` returns, so a
                killed process loses none (default: the ``metric_durable`` setting).
            project: the project a new experiment goes to (default: the workspace's).
        """
        if run_id is not None:
            active = ActiveRun(self, self._backend.get_run(run_id))
            self.logger.watch(run_id, durable)
            self._stack.append(active)
            return active
        parent = self.active_run()
        if parent is not None and not nested:
            raise Conflict(f"run {parent.id} is already active; pass nested=True to start a child run")
        commit, dirty = git_state()
        digest = packages_digest()
        if not self._host.blobs.exists(digest):
            self._host.blobs.put_bytes(packages_lock().encode())
        if experiment is None and parent is not None:
            experiment = parent.info.experiment_id  # a child run lives in its parent's experiment
        reproduces = self._host.settings.reproduces
        if reproduces and parent is None:  # found again by `slipway models reproduce --run` to compare
            tags = {**(tags or {}), "slipway.reproduces": reproduces}
        run = self._backend.create_run(
            experiment=experiment, name=name, parent_id=parent.id if parent else None, git_commit=commit,
            git_dirty=dirty, source=entry_point(), packages_digest=digest, tags=tags,
            project=self._project(project).get("project"),
        )
        self._inherit_step_inputs(run.id)
        active = ActiveRun(self, run)
        self.logger.watch(run.id, durable)
        self._stack.append(active)
        return active

    def _inherit_step_inputs(self, run_id: str) -> None:
        """A run started inside a pipeline step reads what the step read: its dataset versions
        become the run's inputs now (context ``training``, ``log_input``'s default), so a model
        registered from the run names its training data."""
        activity = current_activity()
        if activity is None:
            return
        activity.note("run", run_id)
        if activity.datasets:
            self._backend.log_inputs(run_id, [RunInput(d.name, d.version, d.digest, "training") for d in activity.datasets])

    def end_run(self, run_id: str | None = None, status: str = "FINISHED") -> Run:
        run_id = self._run_id(run_id)
        self.logger.unwatch(run_id)
        self.logger.flush(run_id)
        run = self._backend.end_run(run_id, status)
        self._local.stack = [r for r in self._stack if r.id != run_id]
        return run

    def get_run(self, run_id: str) -> Run:
        self.flush()
        return self._backend.get_run(run_id)

    def flush(self) -> None:
        if self._logger is not None:
            self._logger.flush()

    def close(self) -> None:
        """Write what is buffered and stop the logger's thread (a later call starts a new one)."""
        with self._logger_lock:
            logger, self._logger = self._logger, None
        if logger is not None:
            logger.close()

    # -- logging ----------------------------------------------------------------------------
    def log_param(self, key: str, value: Any, run_id: str | None = None) -> None:
        self.log_params({key: value}, run_id)

    def log_params(self, params: dict[str, Any], run_id: str | None = None) -> None:
        self._backend.log_batch(self._run_id(run_id), params={k: str(v) for k, v in params.items()})

    def set_tags(self, tags: dict[str, Any], run_id: str | None = None) -> None:
        self._backend.log_batch(self._run_id(run_id), tags={k: str(v) for k, v in tags.items()})

    def log_metric(self, key: str, value: float, step: int | None = None, run_id: str | None = None,
                   timestamp_ms: int | None = None) -> None:
        """Buffer one point; it is written in the background (see :mod:`slipway.tracking.logger`)."""
        self.logger.log(self._run_id(run_id), key, value, 0 if step is None else step, timestamp_ms)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None, run_id: str | None = None) -> None:
        run_id = self._run_id(run_id)
        for key, value in metrics.items():
            self.logger.log(run_id, key, value, 0 if step is None else step)

    def log_batch(self, run_id: str, metrics: Sequence[Sequence[Any]] = (), params: dict[str, Any] | None = None,
                  tags: dict[str, Any] | None = None) -> int:
        """Write metric points ``(key, value, step, timestamp_ms)``, params and tags synchronously."""
        return self._backend.log_batch(run_id, metrics=[tuple(p) for p in metrics], params=params, tags=tags)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self.flush()
        return self._backend.get_metric_history(run_id, key)

    def get_metric_history_page(self, run_id: str, key: str, limit: int = 10_000, page_token: str | None = None,
                                min_step: int | None = None, max_step: int | None = None) -> MetricHistoryPage:
        """Up to ``limit`` points of metric ``key`` by step and time, from the start or after the previous
        page's ``next_token`` (None after the last page); ``min_step``/``max_step`` bound the steps.
        A page deep in a long series costs what the first page costs."""
        self.flush()
        return self._backend.get_metric_history_page(run_id, key, limit=limit, page_token=page_token,
                                                     min_step=min_step, max_step=max_step)

    # -- artifacts and inputs -----------------------------------------------------------------
    def _cache(self) -> StatCache:
        if self._stat_cache is None:
            self._stat_cache = StatCache(self._host.settings.home / "statcache.db")
        return self._stat_cache

    def log_artifact(self, local_path: str | os.PathLike[str], artifact_path: str | None = None,
                     run_id: str | None = None) -> RunArtifact:
        """Store a file or a folder (as a manifest) and record it under ``artifact_path``."""
        run_id = self._run_id(run_id)
        path = Path(local_path)
        if not path.exists():
            raise NotFound(f"artifact {local_path} does not exist")
        name = artifact_path or path.name
        if path.is_dir():
            digest, manifest = store_folder(self._host.blobs, path, self._cache())
            return self._backend.record_artifact(run_id, name, digest, "dir", manifest.total_size)
        digest = self._host.blobs.put_file(path)
        return self._backend.record_artifact(run_id, name, digest, "file", path.stat().st_size)

    def log_text(self, text: str, artifact_path: str, run_id: str | None = None) -> RunArtifact:
        data = text.encode()
        digest = self._host.blobs.put_bytes(data)
        return self._backend.record_artifact(self._run_id(run_id), artifact_path, digest, "file", len(data))

    def list_artifacts(self, run_id: str) -> list[RunArtifact]:
        return self._backend.list_artifacts(run_id)

    def download_artifact(self, run_id: str, artifact_path: str, dest: str | os.PathLike[str]) -> Path:
        """Materialise an artifact (file or folder) at ``dest``; corrupt bytes are refused."""
        found = {a.path: a for a in self.list_artifacts(run_id)}
        artifact_path = normalise_relative_path(artifact_path, "artifact path")  # 'a//b' is 'a/b'
        if artifact_path not in found:
            raise NotFound(f"run {run_id} has no artifact {artifact_path!r}; it has {sorted(found)}")
        art = found[artifact_path]
        target = Path(dest)
        if art.kind == "dir":
            restore_folder(self._host.blobs, art.digest, target, link=False)
        else:
            self._host.blobs.materialize(art.digest, target, link=False)
        return target

    def log_input(self, dataset: Any, context: str = "training", run_id: str | None = None) -> RunInput:
        """Record a dataset version as an input of the run.

        ``dataset`` is anything with ``name``, ``version`` and ``digest`` (a DatasetVersion), or a
        :class:`RunInput`.
        """
        if isinstance(dataset, RunInput):
            item = dataset
        else:
            try:
                item = RunInput(dataset.name, dataset.version, dataset.digest, context)
            except AttributeError as err:
                raise InvalidInput("log_input takes a dataset version (with name, version and digest)") from err
        return self._backend.log_inputs(self._run_id(run_id), [item])[0]

    def list_inputs(self, run_id: str) -> list[RunInput]:
        return self._backend.list_inputs(run_id)

    # -- search and housekeeping (see tracking.search) ------------------------------------------
    def search_runs(self, filter: str = "", experiments: list[str] | None = None, order_by: list[str] | None = None,
                    max_results: int = 100, page_token: str | None = None, include_deleted: bool = False) -> RunPage:
        self.flush()
        return self._backend.search_runs(filter=filter, experiments=experiments, order_by=order_by,
                                         max_results=max_results, page_token=page_token, include_deleted=include_deleted)

    def iter_runs(self, filter: str = "", experiments: list[str] | None = None,
                  order_by: list[str] | None = None) -> Iterator[Run]:
        token = None
        while True:
            page = self.search_runs(filter, experiments, order_by, 1000, token)
            yield from page.runs
            if not page.next_token:
                return
            token = page.next_token

    def delete_run(self, run_id: str) -> Run:
        return self._backend.delete_run(run_id)

    def restore_run(self, run_id: str) -> Run:
        return self._backend.restore_run(run_id)

    def compare_runs(self, run_ids: list[str]) -> RunComparison:
        self.flush()
        return self._backend.compare_runs(run_ids)
