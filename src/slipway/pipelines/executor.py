"""Driving one pipeline run: decide each step (skip, reuse, run), retry, record, finish.

The executor runs in the process that started the run. It computes cache keys, loads and stores
artifacts and records every step change through the backend; runners only execute functions.
Independent branches keep going after a failure, so a resume has as little left to do as possible.
"""

from __future__ import annotations

import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from slipway.core.activity import ConsumedDataset, StepActivity, recording
from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, NotFound, SlipwayError
from slipway.pipelines.artifacts import Artifacts
from slipway.pipelines.cache import compute_key
from slipway.pipelines.context import StepContext
from slipway.pipelines.graph import Graph, Node
from slipway.pipelines.provenance import Call, key_material, merge, pin_datasets, read_details, step_edges
from slipway.pipelines.records import PipelineRun, StepUpdate
from slipway.pipelines.runners.base import Runner, StepLocator, Task, TaskResult
from slipway.pipelines.runners.task import execute_task
from slipway.pipelines.serializers import split_outputs
from slipway.pipelines.step_records import condition_holds, describe, first_start_ms, merge_updates, why_not

WAITING = ("PENDING", "RUNNING", "RETRYING")
FINAL = ("SUCCEEDED", "CACHED", "FAILED", "SKIPPED")
# Step changes are committed in groups at most this often (and always at the end of a run).
FLUSH_INTERVAL_S = 0.2
HEARTBEAT_S = 5.0
# A RUNNING run not seen alive for this long was killed: the scheduler and ``resume`` fail it.
STALE_AFTER_S = 30.0
Reuse = dict[str, tuple[str, dict[str, Any], str]]  # node key -> (cache key, outputs, from run id)


def locator_of(fn: Any) -> StepLocator:
    module = getattr(fn, "__module__", "__main__")
    import sys

    file = getattr(sys.modules.get(module), "__slipway_file__", None) or getattr(sys.modules.get(module), "__file__", None)
    return StepLocator(module, getattr(fn, "__qualname__", fn.__name__), file)


class Executor:
    def __init__(self, backend: Any, artifacts: Artifacts, graph: Graph, run: PipelineRun, runner: Runner,
                 workspace: Any = None, reuse: Reuse | None = None) -> None:
        self.backend = backend
        self.artifacts = artifacts
        self.graph = graph
        self.run_id = run.id
        self.runner = runner
        self.workspace = workspace
        self.reuse = reuse or {}
        self.state = {key: "PENDING" for key in graph.nodes}
        self.failures: list[str] = []
        self._updates: list[StepUpdate] = []
        self._logs: dict[str, list[str]] = {}
        self._attempt_errors: dict[str, list[str]] = {}
        self._inflight: dict[Future[TaskResult], tuple[Node, int, str]] = {}
        self._delayed: list[tuple[float, Node, int, str]] = []
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._known: dict[str, dict[str, Any]] | None = None  # prefetched cache entries of this DAG's steps
        self.cancelled = threading.Event()  # set when the run stopped being RUNNING in the store
        self._last_check = time.monotonic()
        self._calls: dict[str, Call] = {}  # node key -> its arguments, dataset parameters pinned
        self._pinned: dict[str, list[ConsumedDataset]] = {}  # node key -> the versions it pinned itself
        self._read: dict[str, tuple[ConsumedDataset, ...]] = {}  # node key -> everything it read, upstream too
        self.external = False  # one step of a run an outside orchestrator drives (execute_step)
        self._attempt_offset = 0  # attempts earlier pods made at that step

    # -- the loop ------------------------------------------------------------------------------
    def execute(self) -> PipelineRun:
        beating = threading.Event()
        threading.Thread(target=self._heartbeat, args=(beating,), daemon=True, name="slipway-run-heartbeat").start()
        try:
            self._known = self.backend.cache_entries(sorted({n.step.name for n in self.graph.nodes.values()}))
            while not self.cancelled.is_set():
                self._advance()
                if not self._inflight and not self._delayed:
                    break
                self._wait()
            if self.cancelled.is_set():
                return self._stop_cancelled()
            self._flush(force=True)
        except BaseException as err:
            with self._lock:
                self._updates.clear()
            if self._was_cancelled():
                return self._stop_cancelled()
            message = err.message if isinstance(err, SlipwayError) else f"{type(err).__name__}: {err}"
            self._finish("FAILED", f"the pipeline run stopped: {message}")
            raise
        finally:
            beating.set()
            self.artifacts.close()
        if self.failures:
            return self._finish("FAILED", "; ".join(self.failures))
        return self._finish("SUCCEEDED", None)

    def execute_step(self, key: str, recorded: PipelineRun) -> str:
        """Execute the one step ``key`` of ``recorded``, a run whose other steps ran (or run) in
        other processes: a compiled Kubeflow or Argo pipeline runs each step in its own pod with
        ``slipway pipelines run-step``. Upstream steps must have finished; their recorded outputs
        are its inputs. One attempt per call: a failed attempt within the step's ``retries`` is
        recorded and left to the orchestrator to retry (its retry policy is the step's). Returns
        the step's status afterwards (``RUNNING`` when a retry is due)."""
        node = self.graph.nodes.get(key)
        if node is None:
            raise NotFound(f"pipeline {self.graph.pipeline!r} has no step {key!r}; it has {list(self.graph.nodes)}")
        steps = {s.key: s for s in recorded.steps}
        for other in recorded.steps:
            self.state[other.key] = other.status
            if other.outputs:
                self.artifacts.outputs[other.key] = other.outputs
        mine = steps.get(key)
        if mine is not None and mine.status in ("SUCCEEDED", "CACHED", "SKIPPED"):
            return mine.status  # done already (a retried pod whose step had finished): nothing to do again
        waiting = [u for u in node.upstream if self.state.get(u) not in FINAL]
        if waiting:
            raise Conflict(f"step {key!r} of pipeline run {self.run_id} waits for {waiting}, which have not finished")
        self._seed_reads(node, steps)
        self.state[key] = "PENDING"
        self.external = True
        if mine is not None and mine.attempts and mine.status in ("RUNNING", "FAILED"):
            self._attempt_offset = mine.attempts
            self._attempt_errors[key] = list(mine.details.get("attempt_errors", []))
        try:
            blocked = [u for u in node.upstream if self.state[u] in ("FAILED", "SKIPPED")]
            if blocked:
                self._skip(node, f"upstream step {blocked[0]!r} {self.state[blocked[0]].lower()}")
            elif node.when is not None and not condition_holds(self.artifacts.resolve(node.when)):
                value = self.artifacts.resolve(node.when)
                self._skip(node, why_not(node, value), {"condition": describe(value)})
            else:
                self._decide(node)
            self._flush(force=True)
        finally:
            self.artifacts.close()
        return self.state[key]

    def _seed_reads(self, node: Node, steps: dict[str, Any]) -> None:
        """What the upstream steps read, from their records (they ran in other processes)."""
        data = self._data()
        for upstream in node.upstream:
            refs = (steps[upstream].details or {}).get("datasets", []) if upstream in steps else []
            read = []
            for ref in refs:
                try:
                    version = data.get_version(ref) if data is not None else None
                except SlipwayError:
                    version = None
                if version is not None:
                    read.append(ConsumedDataset(version.name, version.version, version.digest))
            self._read[upstream] = tuple(read)

    def _heartbeat(self, stop: threading.Event) -> None:
        # Tells schedulers this run's process is alive, so only a killed run is recovered; a run
        # that is no longer RUNNING (cancelled, or failed as dead) stops at the next step boundary.
        while not stop.wait(HEARTBEAT_S):
            try:
                if self.backend.heartbeat(self.run_id) is False:
                    self.cancelled.set()
            except Exception:  # a missed beat is harmless; the next one retries
                continue

    def _was_cancelled(self) -> bool:
        """Whether the run was cancelled (or failed as dead) by someone else: then a refused step
        change or finish is expected, not an error of this run."""
        if self.cancelled.is_set():
            return True
        try:
            ended = self.backend.get_run(self.run_id).status not in ("RUNNING", "QUEUED")
        except Exception:  # the store is unreachable: report the original error
            return False
        if ended:
            self.cancelled.set()
        return ended

    def _stop_cancelled(self) -> PipelineRun:
        """Stop a run someone cancelled: steps not started never start; those in flight are dropped."""
        for future in self._inflight:
            future.cancel()
        self._inflight.clear()
        self._delayed.clear()
        result: PipelineRun = self.backend.get_run(self.run_id)
        return result

    def _finish(self, status: str, error: str | None) -> PipelineRun:
        try:
            result: PipelineRun = self.backend.finish_run(self.run_id, status, error)
        except Conflict:
            if self._was_cancelled():  # cancelled between its last step and its end
                return self._stop_cancelled()
            raise
        return result

    def _advance(self) -> None:
        progress = True
        while progress:
            progress = False
            for key, node in self.graph.nodes.items():
                if self.cancelled.is_set():
                    return
                if self.state[key] != "PENDING":
                    continue
                upstream = node.upstream
                if any(self.state[u] in WAITING for u in upstream):
                    continue
                progress = True
                blocked = [u for u in upstream if self.state[u] in ("FAILED", "SKIPPED")]
                if blocked:
                    self._skip(node, f"upstream step {blocked[0]!r} {self.state[blocked[0]].lower()}")
                    continue
                if node.when is not None:
                    value = self.artifacts.resolve(node.when)
                    if not condition_holds(value):
                        self._skip(node, why_not(node, value), {"condition": describe(value)})
                        continue
                self._decide(node)

    def _decide(self, node: Node) -> None:
        step = node.step
        try:
            # The platform pins the dataset versions the step reads before anything else, so the
            # key, the step and lineage agree on them (cached or not).
            (args, kwargs), pinned = pin_datasets(step, node.args, node.kwargs, self.artifacts.resolve,
                                                  self._data())
            self._calls[node.key], self._pinned[node.key] = (args, kwargs), pinned
            self._read[node.key] = merge(pinned, *(self._read.get(u, ()) for u in node.upstream))
            arguments = {"args": [self.artifacts.key_material(a) for a in args],
                         "kwargs": {k: self.artifacts.key_material(v) for k, v in kwargs.items()}}
            extra = None
            if step.cache_key_extra is not None:
                extra = step.cache_key_extra(self._context(node, 0), *self.artifacts.resolve(args),
                                             **self.artifacts.resolve(kwargs))
            if pinned:
                extra = {"extra": extra, "datasets": key_material(pinned)}
        except Exception as err:  # e.g. the dataset it names does not exist: the step fails, clearly
            self._fail_unstarted(node, err)
            return
        env = {k: _auto_env(k) if v == "auto" else v for k, v in step.env.items()}
        cache_key = compute_key(step.name, step.fn, arguments, env, extra)
        reused = self.reuse.get(node.key)
        if reused and reused[0] == cache_key:
            self._hit(node, cache_key, reused[1], {"reused_from": reused[2]})
            return
        if step.cache and not self._reproducing():
            hit = self._lookup(cache_key)
            if hit and self._blobs_present(hit):
                self._hit(node, cache_key, hit, {})
                return
        self._launch(node, 1, cache_key)

    def _reproducing(self) -> bool:
        """``slipway models reproduce --run`` recomputes every step: a cached result proves nothing."""
        settings = getattr(self.workspace, "settings", None)
        return bool(getattr(settings, "reproduces", ""))

    def _data(self) -> Any:
        return None if self.workspace is None else self.workspace.data

    def _fail_unstarted(self, node: Node, err: Exception) -> None:
        """The step cannot even start (its dataset does not exist, its key hook failed): it fails, clearly."""
        message = err.message if isinstance(err, SlipwayError) else str(err)
        self.state[node.key] = "RUNNING"
        self._done(node, node.step.retries + 1, "", TaskResult(
            False, error=f"{type(err).__name__}: {message}", traceback=traceback.format_exc(),
            start_ms=now_ms(), end_ms=now_ms()))

    def _lineage(self, node: Node, created: list[tuple[str, str, str]] | None = None,
                 touched: list[list[str]] | None = None) -> list[list[str]] | None:
        return step_edges(self._pinned.get(node.key, []), created or [], touched or [])

    def _details(self, node: Node) -> dict[str, Any]:
        return read_details(self._read.get(node.key, ()))

    def _lookup(self, cache_key: str) -> dict[str, Any] | None:
        if self._known is not None:
            # Prefetched at the start: a key missing there is a miss without a round trip (an
            # entry another process adds meanwhile is only recomputed, never wrong).
            return self._known.get(cache_key)
        found: dict[str, Any] | None = self.backend.lookup_cache([cache_key]).get(cache_key)
        return found

    def _blobs_present(self, outputs: dict[str, Any]) -> bool:
        # A cache entry whose blobs were garbage-collected is a miss, never a broken run.
        return not self.artifacts.blobs.missing(o["digest"] for o in outputs.values())

    # -- outcomes ------------------------------------------------------------------------------
    def _hit(self, node: Node, cache_key: str, outputs: dict[str, Any], details: dict[str, Any]) -> None:
        if node.step.on_cache_hit is not None:
            args, kwargs = self._calls[node.key]
            try:
                with recording(StepActivity(self._read.get(node.key, ()))):
                    node.step.on_cache_hit(self._context(node, 0), *self.artifacts.resolve(args),
                                           **self.artifacts.resolve(kwargs))
            except Exception as err:
                self._fail_unstarted(node, err)
                return
        self.state[node.key] = "CACHED"
        self.artifacts.outputs[node.key] = outputs
        now = now_ms()
        details = {**self._details(node), **details}
        self._add(StepUpdate(node.key, "CACHED", cache_key=cache_key, cached=True, attempts=0,
                             start_ms=now, end_ms=now, outputs=outputs, details=details or None,
                             lineage=self._lineage(node)))

    def _skip(self, node: Node, reason: str, details: dict[str, Any] | None = None) -> None:
        self.state[node.key] = "SKIPPED"
        self._add(StepUpdate(node.key, "SKIPPED", details={"skipped": reason, **(details or {})}))

    def _check_cancelled(self) -> bool:
        """Whether the run was cancelled; asked of the store before a step starts, at most every
        ``FLUSH_INTERVAL_S`` (the heartbeat also answers it), so cancelling stops the run at the
        next step boundary without a round trip per quick step."""
        now = time.monotonic()
        if not self.cancelled.is_set() and now - self._last_check >= FLUSH_INTERVAL_S:
            self._last_check = now
            try:
                if self.backend.heartbeat(self.run_id) is False:
                    self.cancelled.set()
            except Exception:  # the store is unreachable: the step change after it will report that
                return False
        return self.cancelled.is_set()

    def _launch(self, node: Node, attempt: int, cache_key: str) -> None:
        if self._check_cancelled():
            return  # it stays PENDING; the loop stops and the cancelled run is returned
        if self.external:
            attempt += self._attempt_offset
        self.state[node.key] = "RUNNING"
        self._add(StepUpdate(node.key, "RUNNING", cache_key=cache_key, attempts=attempt,
                             start_ms=now_ms() if attempt == 1 else None))
        self._flush()
        try:
            call_args, call_kwargs = self._calls.get(node.key, (node.args, node.kwargs))
            args = self.artifacts.resolve(call_args)
            kwargs = self.artifacts.resolve(call_kwargs)
        except SlipwayError as err:
            self._done(node, attempt, cache_key, TaskResult(False, error=f"cannot load inputs: {err.message}"))
            return
        context = self._context(node, attempt) if node.step.wants_context else None
        in_driver = node.step.local or not self.runner.parallel
        task = Task(locator_of(node.step.fn), tuple(args), kwargs, context, node.step.timeout, node.step.outputs,
                    node.key, keep_value=in_driver, fn=node.step.fn)
        if in_driver:
            # A step still running after the commit interval gets its RUNNING state written by a
            # timer, so a long step shows as running while quick ones cost no extra commit.
            timer = threading.Timer(FLUSH_INTERVAL_S, self._flush_quietly)
            timer.daemon = True
            timer.start()
            activity = StepActivity(self._read.get(node.key, ()))
            try:
                with recording(activity):
                    result = execute_task(task, thread_timeout=True)
            finally:
                timer.cancel()
            self._done(node, attempt, cache_key, result, activity.created)
            return
        self._inflight[self.runner.submit(task)] = (node, attempt, cache_key)

    def _wait(self) -> None:
        now = time.monotonic()
        due = [d for d in self._delayed if d[0] <= now]
        for item in due:
            self._delayed.remove(item)
            self._launch(item[1], item[2], item[3])
        if due:
            return
        timeout = min((d[0] for d in self._delayed), default=now + 3600) - now
        if not self._inflight:
            time.sleep(max(0.0, timeout))
            return
        finished, _ = wait(list(self._inflight), timeout=max(0.0, min(timeout, FLUSH_INTERVAL_S)),
                           return_when=FIRST_COMPLETED)
        self._flush()
        for future in finished:
            node, attempt, cache_key = self._inflight.pop(future)
            self._done(node, attempt, cache_key, future.result())

    def _done(self, node: Node, attempt: int, cache_key: str, result: TaskResult,
              created: list[tuple[str, str, str]] | None = None) -> None:
        step = node.step
        if result.logs or attempt > 1:
            header = f"--- attempt {attempt} ---\n" if attempt > 1 or step.retries else ""
            self._logs.setdefault(node.key, []).append(header + result.logs)
        outputs = None
        if result.ok:
            values = split_outputs(step.outputs, result.value, node.key) if result.value is not None else None
            outputs = self.artifacts.store_encoded(result.encoded, values)
        if not result.ok:
            self._attempt_errors.setdefault(node.key, []).append(result.error or "failed")
            if attempt <= step.retries and self.external:
                # The orchestrator retries the pod (its retry policy is this step's): record the
                # attempt so the next pod counts on from it.
                self.state[node.key] = "RUNNING"
                self._add(StepUpdate(node.key, "RUNNING", attempts=attempt, error=result.error,
                                     traceback=result.traceback,
                                     details={"attempt_errors": self._attempt_errors[node.key]}))
                return
            if attempt <= step.retries:
                delay = step.backoff * (2 ** (attempt - 1))
                self.state[node.key] = "RETRYING"
                self._delayed.append((time.monotonic() + delay, node, attempt + 1, cache_key))
                return
        logs_digest = self._store_logs(node.key)
        details: dict[str, Any] = self._details(node)
        lineage = self._lineage(node, created or [], result.lineage)
        if self._attempt_errors.get(node.key):
            details["attempt_errors"] = self._attempt_errors[node.key]
        if result.ok and outputs is not None:
            self.state[node.key] = "SUCCEEDED"
            self.artifacts.outputs[node.key] = outputs
            report = getattr(result.value, "to_details", None)
            if callable(report):
                details.update(report())
            ttl = -1.0 if not step.cache else (step.cache_ttl or 0.0)
            if step.cache and self._known is not None and not step.cache_ttl:
                self._known[cache_key] = outputs
            self._add(StepUpdate(
                node.key, "SUCCEEDED", attempts=attempt, start_ms=first_start_ms(attempt, result),
                end_ms=result.end_ms or now_ms(), outputs=outputs,
                logs_digest=logs_digest, details=details or None, cache_key=cache_key, cache_ttl_s=ttl,
                lineage=lineage))
        else:
            self.state[node.key] = "FAILED"
            self.failures.append(f"step {node.key!r} failed after {attempt} attempt(s): {result.error}")
            self._add(StepUpdate(
                node.key, "FAILED", attempts=attempt, start_ms=first_start_ms(attempt, result),
                end_ms=result.end_ms or now_ms(), logs_digest=logs_digest,
                error=result.error, traceback=result.traceback, details=details or None,
                lineage=lineage))
        self._flush()

    def _store_logs(self, key: str) -> str | None:
        parts = self._logs.get(key)
        if not parts or not any(parts):
            return None
        return self.artifacts.put_bytes("".join(parts).encode())

    def _context(self, node: Node, attempt: int) -> StepContext:
        return StepContext(self.run_id, node.key, attempt, self.graph.params, self.workspace)

    def _add(self, update: StepUpdate) -> None:
        with self._lock:
            self._updates.append(update)

    def _flush(self, force: bool = False) -> None:
        """Commit pending step changes, at most every ``FLUSH_INTERVAL_S`` unless forced (group
        commit: one transaction for many quick steps). Blobs a change names are stored first."""
        with self._lock:
            if not self._updates or (not force and time.monotonic() - self._last_flush < FLUSH_INTERVAL_S):
                return
            updates, self._updates = merge_updates(self._updates), []
            try:
                digests = [o["digest"] for u in updates for o in (u.outputs or {}).values()]
                digests += [u.logs_digest for u in updates if u.logs_digest]
                self.artifacts.wait_stored(digests)
                self.backend.update_steps(self.run_id, updates)
            except BaseException:
                self._updates[:0] = updates  # nothing is lost: the next flush tries again
                raise
            self._last_flush = time.monotonic()

    def _flush_quietly(self) -> None:
        try:
            self._flush()
        except Exception:  # the timer's flush is an early write; the main loop's flush reports errors
            return


def _auto_env(name: str) -> Any:
    """``env={"packages": "auto"}`` stands for the digest of the installed packages."""
    if name == "packages":
        from slipway.tracking.environment import packages_digest

        return packages_digest()
    if name == "python":
        import sys

        return ".".join(map(str, sys.version_info[:3]))
    return "auto"
