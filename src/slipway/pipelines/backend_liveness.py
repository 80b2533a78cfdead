"""Liveness of pipeline runs: heartbeats, failing runs whose process died, cancelling.

The process executing a run heartbeats every few seconds. A RUNNING run whose heartbeat is older
than a bound was killed: :meth:`LivenessMixin.recover_stale` fails it (the scheduler calls it
every tick, ``resume`` for the one run it is asked to resume) and, for a run a schedule or
trigger started, queues a resume of it, at most :data:`MAX_RUN_ATTEMPTS` attempts in all, each
later one held back longer (exponential backoff), so a run that kills its process every time
ends FAILED instead of taking the scheduler down forever.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy import Connection, select

from slipway.core.auth import endpoint
from slipway.core.clock import now_ms
from slipway.core.errors import Conflict, InvalidInput
from slipway.core.events import Action, Subject
from slipway.pipelines.records import PipelineRun
from slipway.pipelines.rows import from_json, to_json
from slipway.store import leases
from slipway.store.context import ServiceContext
from slipway.store.leases import Lease
from slipway.store.schema.pipelines import pipeline_runs, pipeline_step_runs

MAX_RUN_ATTEMPTS = 3  # a scheduled run and at most two recoveries of it
RECOVERY_BACKOFF_MS = 30_000  # the second attempt waits this long, the third twice as long
_SCHEDULED = ("schedule", "trigger", "recover")
SCHEDULER_LEASE = "scheduler"  # the one lease scheduler replicas compete for


def _check_ms(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be a time in milliseconds, got {value!r}")
    return value


class LivenessMixin(ABC):
    ctx: ServiceContext

    # provided by PipelineBackend
    @abstractmethod
    def _insert_run(self, conn: Connection, pipeline: str, source: str, runner: str, params: dict[str, Any],
                    steps: list[Any], reason: dict[str, Any], resumed_from: str | None, status: str,
                    project: str) -> str:
        ...

    @abstractmethod
    def _run_row(self, conn: Connection, run_id: str) -> Any:
        ...

    @abstractmethod
    def _load(self, conn: Connection, run_id: str) -> PipelineRun:
        ...

    @endpoint("pipelines.run")
    def heartbeat(self, run_id: str) -> bool:
        """Note that the process executing a RUNNING run is alive; False if the run is not RUNNING
        (it was cancelled, or failed as dead), which tells that process to stop.

        Not an audit event: it changes no fact about the run, only when it was last seen alive
        (auditing it every few seconds would bury the ledger). Stale heartbeats are acted on by
        :meth:`recover_stale`, which is audited.
        """
        with self.ctx.db.write() as conn:
            count = conn.execute(pipeline_runs.update().where(
                pipeline_runs.c.id == run_id, pipeline_runs.c.status == "RUNNING").values(heartbeat_ms=now_ms())).rowcount
        return bool(count)

    @endpoint("pipelines.run")
    def recover_stale(self, stale_before_ms: int, run_id: str | None = None, requeue: bool = True,
                      now: int | None = None) -> list[PipelineRun]:
        """Fail every RUNNING run (or only ``run_id``) whose executing process has not been seen
        since ``stale_before_ms`` (it was killed). With ``requeue``, a run a schedule or trigger
        started is queued again as a resume of it, in the same transaction, so its firing is
        neither lost nor run twice, unless it has had :data:`MAX_RUN_ATTEMPTS` attempts; the
        resume waits until ``now`` (the caller's clock) plus a backoff. Returns the runs queued."""
        _check_ms(stale_before_ms, "stale_before_ms")
        now = _check_ms(now, "now") if now is not None else now_ms()
        # A run a compiled Kubeflow or Argo pipeline drives has no process beating between its
        # step pods: the orchestrator, not the heartbeat, says whether it is alive.
        query = select(pipeline_runs.c.id).where(pipeline_runs.c.status == "RUNNING",
                                                 pipeline_runs.c.heartbeat_ms < stale_before_ms,
                                                 pipeline_runs.c.runner.not_in(("kubeflow", "argo")))
        if run_id is not None:
            query = query.where(pipeline_runs.c.id == run_id)
        with self.ctx.db.read() as conn:
            stale = conn.execute(query).scalars().all()
        queued = []
        for stale_id in stale:
            with self.ctx.db.write() as conn:
                row = self._run_row(conn, stale_id)
                reason = from_json(row.reason, {})
                attempt = int(reason.get("attempt", 1))
                again = requeue and reason.get("kind") in _SCHEDULED and attempt < MAX_RUN_ATTEMPTS
                error = "the process executing this run stopped (no heartbeat); completed steps are kept"
                if requeue and reason.get("kind") in _SCHEDULED and not again:
                    error += f"; not retried: it had {attempt} attempts, the limit is {MAX_RUN_ATTEMPTS}"
                claimed = conn.execute(pipeline_runs.update().where(
                    pipeline_runs.c.id == stale_id, pipeline_runs.c.status == "RUNNING",
                    pipeline_runs.c.heartbeat_ms < stale_before_ms).values(
                    status="FAILED", end_ms=now_ms(), error=error)).rowcount
                if not claimed:
                    continue  # it came back to life, or another scheduler recovered it first
                self.ctx.audit(conn, Action.PIPELINE_RUN_FINISH, Subject.PIPELINE_RUN, stale_id, {"status": "FAILED", "error": error})
                if again:
                    original = reason.get("original", reason) if reason.get("kind") == "recover" else reason
                    retry = {"kind": "recover", "run": stale_id, "original": original, "attempt": attempt + 1,
                             "not_before_ms": now + RECOVERY_BACKOFF_MS * 2 ** (attempt - 1)}
                    new_id_ = self._insert_run(conn, row.pipeline, row.source, row.runner, from_json(row.params, {}),
                                               [], retry, stale_id, "QUEUED", row.project)
                    queued.append(self._load(conn, new_id_))
        return queued

    @endpoint("pipelines.run")
    def cancel_run(self, run_id: str) -> PipelineRun:
        """Cancel a QUEUED or RUNNING run: it becomes CANCELLED and its unfinished steps SKIPPED.

        The process executing a RUNNING run learns it at its next heartbeat or step change and
        stops starting steps; a step already executing finishes in its worker and is discarded.

        Raises:
            Conflict: the run already ended.
        """
        with self.ctx.db.write() as conn:
            row = self._run_row(conn, run_id)
            if row.status not in ("QUEUED", "RUNNING"):
                raise Conflict(f"pipeline run {run_id} already ended as {row.status}; "
                               "only a QUEUED or RUNNING run can be cancelled")
            ended = now_ms()
            error = f"cancelled by {self.ctx.principal.name}"
            conn.execute(pipeline_runs.update().where(pipeline_runs.c.id == run_id)
                         .values(status="CANCELLED", end_ms=ended, error=error))
            for step in conn.execute(select(pipeline_step_runs).where(
                    pipeline_step_runs.c.run_id == run_id,
                    pipeline_step_runs.c.status.in_(("PENDING", "RUNNING", "RETRYING")))).all():
                details = {**from_json(step.details, {}), "skipped": "the run was cancelled"}
                conn.execute(pipeline_step_runs.update().where(pipeline_step_runs.c.id == step.id)
                             .values(status="SKIPPED", end_ms=ended, details=to_json(details)))
            self.ctx.audit(conn, Action.PIPELINE_RUN_CANCEL, Subject.PIPELINE_RUN, run_id, {"was": row.status})
            return self._load(conn, run_id)

    @endpoint("pipelines.run")
    def scheduler_lease(self, holder: str, ttl_s: float = 30.0, now: int | None = None) -> Lease | None:
        """Take or renew the scheduler's leader lease for ``holder`` (one scheduler replica acts,
        the others stand by); ``None`` while another replica's lease runs. ``now`` is the caller's
        clock (ms). Not audited, like :meth:`heartbeat`: it records who is alive, no fact about a
        run (every firing and run start is still claimed once by its own row).

        Raises:
            InvalidInput: an empty holder or a ttl outside 0.1 s … 1 h.
        """
        with self.ctx.db.write() as conn:
            return leases.take(conn, SCHEDULER_LEASE, holder, int(ttl_s * 1000), now)

    @endpoint("pipelines.run")
    def release_scheduler_lease(self, holder: str, token: int) -> bool:
        """Give up ``holder``'s scheduler lease (a clean shutdown) so a standby takes over at once."""
        with self.ctx.db.write() as conn:
            return leases.release(conn, SCHEDULER_LEASE, holder, token)
