"""``ws.pipelines``: run, resume and inspect pipelines; schedules and triggers.

The executor runs here, in the caller's process, and records everything through the pipelines
backend, so the same calls work embedded and against a remote server.
"""

from __future__ import annotations

from typing import Any

from slipway.core.errors import Conflict, InvalidInput, NotFound
from slipway.pipelines.artifacts import Artifacts
from slipway.pipelines.dsl import Pipeline
from slipway.pipelines.executor import Executor, Reuse
from slipway.pipelines.graph import Graph
from slipway.pipelines.loader import load_pipeline, pipeline_ref
from slipway.pipelines.records import Firing, PipelineRun, Schedule, StepPlan, Trigger
from slipway.pipelines.runners import Runner, make_runner
from slipway.store.context import Host


class PipelineService:
    def __init__(self, host: Host) -> None:
        self._host = host
        self._backend: Any = host.backend("pipelines")

    # -- running -------------------------------------------------------------------------------
    def run(self, pipeline: Pipeline | str, params: dict[str, Any] | None = None, *, runner: str | Runner = "inprocess",
            reason: dict[str, Any] | None = None) -> PipelineRun:
        """Run ``pipeline`` (a :class:`Pipeline` or a ``file.py:name`` reference) and return the run.

        A failing step does not raise: the run comes back FAILED with the step's error, traceback
        and logs recorded. Bad parameters raise InvalidInput before anything is recorded.
        """
        pipe = load_pipeline(pipeline) if isinstance(pipeline, str) else _check_pipeline(pipeline)
        graph = pipe.build(params)
        runner_obj, runner_name = _runner(runner)
        run = self._backend.create_run(pipe.name, pipeline_ref(pipe), runner_name, graph.params, _plan(graph),
                                       reason or {"kind": "manual"})
        return self._execute(graph, run, runner_obj, close=isinstance(runner, str))

    def resume(self, run_id: str, *, pipeline: Pipeline | None = None, runner: str | Runner | None = None) -> PipelineRun:
        """Run a failed run again as a new run: steps that completed (same key) are reused, the
        failed step and everything after it run. The pipeline is found by the reference the run
        recorded unless given."""
        old = self.get_run(run_id)
        if old.status != "FAILED":
            raise Conflict(f"pipeline run {run_id} is {old.status}; only a FAILED run can be resumed")
        pipe = _check_pipeline(pipeline) if pipeline is not None else load_pipeline(old.source)
        graph = pipe.build(old.params)
        reuse: Reuse = {s.key: (s.cache_key, s.outputs, run_id) for s in old.steps
                        if s.status in ("SUCCEEDED", "CACHED") and s.cache_key and s.outputs}
        runner_obj, runner_name = _runner(runner or old.runner)
        run = self._backend.create_run(pipe.name, old.source, runner_name, graph.params, _plan(graph),
                                       {"kind": "resume", "run": run_id}, run_id)
        return self._execute(graph, run, runner_obj, reuse=reuse, close=not hasattr(runner, "submit"))

    def execute_queued(self, run_id: str) -> PipelineRun:
        """Start and execute a QUEUED run (one a schedule or trigger claimed). Conflict if another
        process already started it."""
        queued = self.get_run(run_id)
        pipe = load_pipeline(queued.source)
        try:
            graph = pipe.build(queued.params)
        except InvalidInput as err:
            self._backend.claim_run(run_id, [])
            return self._backend.finish_run(run_id, "FAILED", f"cannot build the pipeline: {err.message}")  # type: ignore[no-any-return]
        reuse: Reuse | None = None
        if queued.resumed_from:  # queued by recovery: reuse what the killed run completed
            old = self.get_run(queued.resumed_from)
            reuse = {s.key: (s.cache_key, s.outputs, old.id) for s in old.steps
                     if s.status in ("SUCCEEDED", "CACHED") and s.cache_key and s.outputs}
        run = self._backend.claim_run(run_id, _plan(graph))
        runner_obj, _ = _runner(queued.runner)
        return self._execute(graph, run, runner_obj, reuse=reuse, close=True)

    def _execute(self, graph: Graph, run: PipelineRun, runner: Runner, reuse: Reuse | None = None,
                 close: bool = True) -> PipelineRun:
        executor = Executor(self._backend, Artifacts(self._host.blobs), graph, run, runner, self._host, reuse)
        try:
            return executor.execute()
        finally:
            if close:
                runner.close()

    # -- inspecting ----------------------------------------------------------------------------
    def get_run(self, run_id: str) -> PipelineRun:
        return self._backend.get_run(run_id)  # type: ignore[no-any-return]

    def list_runs(self, pipeline: str | None = None, status: str | None = None, limit: int = 50) -> list[PipelineRun]:
        return self._backend.list_runs(pipeline=pipeline, status=status, limit=limit)  # type: ignore[no-any-return]

    def logs(self, run_id: str, step: str | None = None) -> dict[str, str]:
        """Captured stdout, stderr and logging of each step (or of ``step``), by step key."""
        run = self.get_run(run_id)
        steps = run.steps
        if step is not None:
            steps = [s for s in steps if s.key == step]
            if not steps:
                raise NotFound(f"pipeline run {run_id} has no step {step!r}; it has {[s.key for s in run.steps]}")
        return {s.key: self._host.blobs.read_bytes(s.logs_digest).decode(errors="replace") if s.logs_digest else ""
                for s in steps}

    def output(self, run_id: str, step: str, name: str | None = None) -> Any:
        """The value a step of a run produced (loaded from the artifact store)."""
        record = self.get_run(run_id).step(step) if step else None
        if record is None or not record.outputs:
            raise NotFound(f"step {step!r} of pipeline run {run_id} has no stored outputs")
        meta = record.outputs[name] if name else next(iter(record.outputs.values()))
        return Artifacts(self._host.blobs).load(meta)

    def clear_cache(self, step: str | None = None) -> int:
        return self._backend.clear_cache(step)  # type: ignore[no-any-return]

    # -- schedules and triggers ----------------------------------------------------------------
    def schedule(self, name: str, pipeline: str, cron: str, params: dict[str, Any] | None = None,
                 runner: str = "inprocess", catchup: bool = False) -> Schedule:
        """Run ``pipeline`` (a reference) whenever ``cron`` (UTC) matches, via ``slipway scheduler``."""
        return self._backend.create_schedule(name, pipeline, cron, params, runner, catchup)  # type: ignore[no-any-return]

    def on_dataset(self, name: str, dataset: str, pipeline: str, params: dict[str, Any] | None = None,
                   param: str = "dataset", runner: str = "inprocess") -> Trigger:
        """Run ``pipeline`` once per new version of ``dataset`` (those added after this call), with
        ``param`` set to ``"dataset@version"``."""
        baseline = self._latest_version(dataset)
        return self._backend.create_trigger(name, "dataset", dataset, pipeline, params, param, runner, baseline)  # type: ignore[no-any-return]

    def on_alert(self, name: str, monitor: str, pipeline: str, params: dict[str, Any] | None = None,
                 param: str = "alert", runner: str = "inprocess") -> Trigger:
        """Run ``pipeline`` once per alert raised by ``monitor`` (see :meth:`notify_alert`)."""
        return self._backend.create_trigger(name, "alert", monitor, pipeline, params, param, runner, None)  # type: ignore[no-any-return]

    def notify_alert(self, monitor: str, alert_id: str) -> list[PipelineRun]:
        """Queue one run per alert trigger on ``monitor`` (each at most once per alert); the
        scheduler executes them."""
        queued = []
        for trigger in self._backend.list_triggers(kind="alert", target=monitor):
            if trigger.enabled:
                run = self._backend.claim_firing(trigger.id, alert_id, _pipeline_name(trigger.pipeline))
                if run is not None:
                    queued.append(run)
        return queued

    def list_schedules(self) -> list[Schedule]:
        return self._backend.list_schedules()  # type: ignore[no-any-return]

    def list_triggers(self) -> list[Trigger]:
        return self._backend.list_triggers()  # type: ignore[no-any-return]

    def list_firings(self, source_id: str | None = None, limit: int = 100) -> list[Firing]:
        return self._backend.list_firings(source_id, limit)  # type: ignore[no-any-return]

    def _latest_version(self, dataset: str) -> int | None:
        from slipway.pipelines.dataset_events import latest_version

        return latest_version(self._host, dataset)


def _check_pipeline(pipe: Any) -> Pipeline:
    if not isinstance(pipe, Pipeline):
        raise InvalidInput(f"expected a @pipeline function or a 'file.py:name' reference, got {pipe!r}")
    return pipe


def _runner(runner: str | Runner) -> tuple[Runner, str]:
    if isinstance(runner, str):
        return make_runner(runner), runner
    return runner, runner.name


def _plan(graph: Graph) -> list[StepPlan]:
    return [StepPlan(key, node.step.name, node.upstream) for key, node in graph.nodes.items()]


def _pipeline_name(ref: str) -> str:
    return ref.rpartition(":")[2].rpartition(".")[2]
