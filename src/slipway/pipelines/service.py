"""``ws.pipelines``: run, resume, cancel and inspect pipelines; schedules and triggers (in
:mod:`slipway.pipelines.service_schedules`).

The executor runs here, in the caller's process, and records everything through the pipelines
backend, so the same calls work embedded and against a remote server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput, NotFound, SlipwayError
from slipway.pipelines.artifacts import Artifacts
from slipway.pipelines.dsl import Pipeline
from slipway.pipelines.executor import STALE_AFTER_S, Executor, Reuse
from slipway.pipelines.graph import Graph
from slipway.pipelines.loader import pipeline_ref
from slipway.pipelines.records import PipelineRun, StepPlan, StepRun, StepUpdate
from slipway.pipelines.runners import Runner, make_runner
from slipway.pipelines.service_schedules import SchedulesMixin
from slipway.pipelines.sources import parse_stored
from slipway.store.context import Host

if TYPE_CHECKING:
    from slipway.pipelines.backend import PipelineBackend


class PipelineService(SchedulesMixin):
    """``ws.pipelines``. ``clock`` (ms since the epoch) decides when a RUNNING run's heartbeat is
    stale enough for :meth:`resume` to fail it as dead; tests inject one."""

    def __init__(self, host: Host, clock: Callable[[], int] = now_ms) -> None:
        self._host = host
        self._backend: PipelineBackend = host.backend("pipelines")
        self.clock = clock

    # -- running -------------------------------------------------------------------------------
    def run(self, pipeline: Pipeline | str, params: dict[str, Any] | None = None, *, runner: str | Runner = "inprocess",
            reason: dict[str, Any] | None = None) -> PipelineRun:
        """Run ``pipeline`` (a :class:`Pipeline` or a ``file.py:name`` reference) and return the run.

        A failing step does not raise: the run comes back FAILED with the step's error, traceback
        and logs recorded. Bad parameters raise InvalidInput before anything is recorded.
        """
        pipe = self._load(pipeline) if isinstance(pipeline, str) else _check_pipeline(pipeline)
        graph = pipe.build(params)
        runner_obj, runner_name = _runner(runner)
        run = self._backend.create_run(pipe.name, pipeline_ref(pipe), runner_name, graph.params, _plan(graph),
                                       reason or {"kind": "manual"}, **self._in_project())
        return self._execute(graph, run, runner_obj, close=isinstance(runner, str))

    def resume(self, run_id: str, *, pipeline: Pipeline | None = None, runner: str | Runner | None = None) -> PipelineRun:
        """Run a failed or cancelled run again as a new run: steps that completed (same key) are
        reused, the failed step and everything after it run. The pipeline is found by the
        reference the run recorded unless given. A RUNNING run whose process was killed (no
        heartbeat for :data:`STALE_AFTER_S`) is failed first, then resumed.

        Raises:
            Conflict: the run succeeded, is queued, or is RUNNING in a live process.
        """
        old = self.get_run(run_id)
        if old.status == "RUNNING":
            old = self._fail_if_dead(old)
        if old.status not in ("FAILED", "CANCELLED"):
            raise Conflict(f"pipeline run {run_id} is {old.status}; only a FAILED or CANCELLED run can be resumed")
        pipe = _check_pipeline(pipeline) if pipeline is not None else self._load(old.source)
        graph = pipe.build(old.params)
        reuse: Reuse = {s.key: (s.cache_key, s.outputs, run_id) for s in old.steps
                        if s.status in ("SUCCEEDED", "CACHED") and s.cache_key and s.outputs}
        # A run Kubeflow or Argo drove resumes here, in-process, unless told otherwise.
        runner_obj, runner_name = _runner(runner or ("inprocess" if old.runner in ("kubeflow", "argo") else old.runner))
        run = self._backend.create_run(pipe.name, old.source, runner_name, graph.params, _plan(graph),
                                       {"kind": "resume", "run": run_id}, run_id)
        return self._execute(graph, run, runner_obj, reuse=reuse, close=not hasattr(runner, "submit"))

    def _fail_if_dead(self, run: PipelineRun) -> PipelineRun:
        """``run`` failed as dead if its heartbeat is older than :data:`STALE_AFTER_S` (its process
        was killed); Conflict while its process is alive."""
        self._backend.recover_stale(self.clock() - int(STALE_AFTER_S * 1000), run.id, False, self.clock())
        run = self.get_run(run.id)
        if run.status == "RUNNING":
            seen = (self.clock() - run.heartbeat_ms) / 1000 if run.heartbeat_ms else 0.0
            raise Conflict(f"pipeline run {run.id} is RUNNING and its process was alive {max(seen, 0.0):.0f} s ago; "
                           f"cancel it ('slipway pipelines cancel {run.id}') or resume it once its heartbeat is "
                           f"{STALE_AFTER_S:.0f} s old")
        return run

    def cancel(self, run_id: str) -> PipelineRun:
        """Cancel a QUEUED or RUNNING run (Conflict if it already ended). A running one stops at its
        next step boundary (within a heartbeat, a few seconds); its completed steps are kept, so
        :meth:`resume` can continue it."""
        return self._backend.cancel_run(run_id)

    def execute_queued(self, run_id: str) -> PipelineRun:
        """Start and execute a QUEUED run (one a schedule or trigger claimed). Conflict if another
        process already started it. A run whose pipeline cannot be loaded or built (a bad
        parameter, a file with a syntax error, a source that is not stored) ends FAILED with the
        reason, at once: it could never succeed, and it must not hold up the runs behind it."""
        queued = self.get_run(run_id)
        if queued.status != "QUEUED":
            raise Conflict(f"pipeline run {run_id} is {queued.status}, not QUEUED; it was already started")
        try:
            if not parse_stored(queued.source):
                raise InvalidInput(f"its pipeline {queued.source!r} is not a stored source; update the schedule or "
                                   "trigger ('slipway pipelines update NAME REF') to store it")
            graph = self._load(queued.source).build(queued.params)
        except (Exception, SystemExit) as err:  # noqa: BLE001 - user code: any failure fails the run, never the caller
            message = err.message if isinstance(err, SlipwayError) else f"{type(err).__name__}: {err}"
            return self._backend.finish_run(run_id, "FAILED", f"cannot load the pipeline: {message}")
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

    # -- runs a compiled Kubeflow or Argo pipeline drives -----------------------------------------
    def compile(self, pipeline: Pipeline | str, target: str, params: dict[str, Any] | None = None, *,
                image: str) -> str:
        """``pipeline`` as a Kubeflow Pipelines v2 spec (``target="kubeflow"``, the ``kubeflow``
        extra) or an Argo Workflow (``"argo"``), as YAML, whose containers run its steps in
        ``image`` with ``slipway pipelines run-step``. Its source is stored first (as a schedule's
        is), so the containers load it from the store; ``params`` become the spec's defaults.

        Raises:
            InvalidInput: an unknown target, a parameter that does not parse, a bad image.
        """
        from slipway.pipelines.compile import TARGETS, compile_spec

        if target not in TARGETS:
            raise InvalidInput(f"unknown compile target {target!r}; use one of {list(TARGETS)}")
        ref, _, parsed = self._prepare(pipeline, params)
        pipe = self._load(ref)
        return compile_spec(pipe, pipe.build(parsed), ref, target, image)

    def start_external(self, pipeline: Pipeline | str, params: dict[str, Any] | None = None, *,
                       runner: str = "kubeflow") -> PipelineRun:
        """Record a RUNNING run whose steps an outside orchestrator executes one by one with
        :meth:`run_step` (the ``start`` task of a compiled pipeline). Its liveness is the
        orchestrator's: the scheduler never fails it for a missing heartbeat."""
        from slipway.pipelines.backend import EXTERNAL_RUNNERS

        if runner not in EXTERNAL_RUNNERS:
            raise InvalidInput(f"runner must be one of {list(EXTERNAL_RUNNERS)}, not {runner!r}")
        pipe = self._load(pipeline) if isinstance(pipeline, str) else _check_pipeline(pipeline)
        graph = pipe.build(params)
        source = pipeline if isinstance(pipeline, str) else pipeline_ref(pipe)
        return self._backend.create_run(pipe.name, source, runner, graph.params, _plan(graph),
                                        {"kind": "orchestrated", "by": runner}, **self._in_project())

    def run_step(self, run_id: str, step: str, *, pipeline: Pipeline | None = None) -> StepRun:
        """Execute one step of a run :meth:`start_external` started, in this process, after its
        upstream steps finished (anywhere); one attempt. Returns the step as recorded: SUCCEEDED,
        CACHED, SKIPPED, FAILED, or RUNNING when the attempt failed and a retry is due.

        Raises:
            Conflict: the run is not RUNNING, or an upstream step has not finished.
            NotFound: no such run or step.
        """
        run = self.get_run(run_id)
        if run.status != "RUNNING":
            raise Conflict(f"pipeline run {run_id} is {run.status}; its steps cannot run")
        pipe = _check_pipeline(pipeline) if pipeline is not None else self._load(run.source)
        graph = pipe.build(run.params)
        executor = Executor(self._backend, Artifacts(self._host.blobs), graph, run, make_runner("inprocess"), self._host)
        executor.execute_step(step, run)
        return self.get_run(run_id).step(step)

    def finish_external(self, run_id: str) -> PipelineRun:
        """End a run an orchestrator drove (the exit handler of a compiled pipeline): steps the
        orchestrator never started (below a failed step) become SKIPPED, steps left RUNNING (out
        of retries, or stopped) FAILED, and the run ends FAILED if any step failed or never ran
        (the workflow was stopped), else SUCCEEDED. A run that already ended is returned as it is."""
        run = self.get_run(run_id)
        if run.status != "RUNNING":
            return run
        updates: list[StepUpdate] = []
        never: list[str] = []
        state = {s.key: s.status for s in run.steps}
        for s in run.steps:  # in DAG order, so a step's upstream is decided before it
            if s.status == "RUNNING":
                error = s.error or "the orchestrator stopped this step before it finished"
                updates.append(StepUpdate(s.key, "FAILED", end_ms=self.clock(), error=error))
                state[s.key] = "FAILED"
            elif s.status == "PENDING":
                blocked = [u for u in s.upstream if state.get(u) in ("FAILED", "SKIPPED")]
                why = (f"upstream step {blocked[0]!r} {state[blocked[0]].lower()}" if blocked
                       else "the orchestrator never ran this step (the workflow was stopped)")
                if not blocked:
                    never.append(s.key)
                updates.append(StepUpdate(s.key, "SKIPPED", details={"skipped": why}))
                state[s.key] = "SKIPPED"
        if updates:
            self._backend.update_steps(run_id, updates)
        failures = [f"step {s.key!r} failed after {max(s.attempts, 1)} attempt(s): "
                    f"{s.error or 'the orchestrator stopped this step before it finished'}"
                    for s in run.steps if state[s.key] == "FAILED"]
        if never:
            failures.append(f"steps {never} never ran: the orchestrator stopped the workflow")
        return self._backend.finish_run(run_id, "FAILED" if failures else "SUCCEEDED", "; ".join(failures) or None)

    # -- inspecting ----------------------------------------------------------------------------
    def get_run(self, run_id: str) -> PipelineRun:
        return self._backend.get_run(run_id)

    def list_runs(self, pipeline: str | None = None, status: str | None = None, limit: int = 50) -> list[PipelineRun]:
        return self._backend.list_runs(pipeline=pipeline, status=status, limit=limit)

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
        return self._backend.clear_cache(step)

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

