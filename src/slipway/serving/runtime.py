"""The server's live state: the current router, loaded models, counters, payload log, controller.

Background work runs as asyncio tasks on the server's loop, with store calls in threads:
reloading the deployment when its revision changes (models loaded off-loop, router swapped in one
assignment), reporting per-variant counters for the canary controller, and (when enabled) the
controller itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slipway.core.errors import NotFound
from slipway.serving.approval_gate import check_servable
from slipway.serving.batching import MicroBatcher
from slipway.serving.features import lookup_for
from slipway.serving.metrics import ServingMetrics
from slipway.serving.model import ServedModel, served_from_registry
from slipway.serving.options import ServeOptions
from slipway.serving.payload import PayloadLogger
from slipway.serving.router import Router, VariantRuntime
from slipway.serving.spool import Spool

log = logging.getLogger("slipway.serving")
ModelLoader = Callable[[str, int], ServedModel]
SWITCH_INTERVAL_S = 0.0005


class ServerRuntime:
    """Everything one server process needs to answer requests."""

    def __init__(self, workspace: Any, options: ServeOptions, *, deployment: str | None = None,
                 models: list[ServedModel] | None = None, model_ref: str | None = None) -> None:
        if sum(x is not None for x in (deployment, models, model_ref)) != 1:
            raise ValueError("serve exactly one of: a deployment, a model reference, loaded models")
        self.workspace = workspace
        self.options = options
        self.deployment_name = deployment
        self._fixed_models = models
        self.model_ref = model_ref
        self.metrics = ServingMetrics()
        self.router: Router | None = None
        self._batchers: dict[tuple[str, str], tuple[ServedModel, MicroBatcher]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._controller: Any = None  # the canary controller replica (slipway.deploy.controller), made on first tick
        self.payload: PayloadLogger | None = None
        self.last_error: str | None = None

    # -- loading ------------------------------------------------------------------------------
    def _model(self, model: str, version: int) -> ServedModel:
        key = (model, str(version))
        if key not in self._batchers:
            served = served_from_registry(self.workspace, f"{model}/{version}")
            self._batchers[key] = (served, self._batcher(served))
        return self._batchers[key][0]

    def _batcher(self, served: ServedModel) -> MicroBatcher:
        return MicroBatcher(served.predict, None, self.options.max_batch_rows, self.options.max_wait_ms,
                            inline_ms=self.options.inline_predict_ms)

    def _runtime(self, deployment: str, name: str, role: str, weight: float, served: ServedModel) -> VariantRuntime:
        key = (served.name, served.version)
        if key not in self._batchers:
            self._batchers[key] = (served, self._batcher(served))
        batcher = self._batchers[key][1]
        metrics = self.metrics.for_variant(deployment, name, served.name, served.version)
        batcher.metrics = metrics  # batch metrics follow the variant that last took the model
        return VariantRuntime(name, role, weight, served, batcher, metrics)

    def build_router(self) -> Router:
        """A router for what this server serves now (blocking: loads models; call off-loop)."""
        if self._fixed_models is not None:
            name = self._fixed_models[0].name
            variants = [self._runtime(name, "default", "stable", 100.0, m) for m in self._fixed_models[:1]]
            variants += [self._runtime(name, f"v{m.version}", "stable", 0.0, m) for m in self._fixed_models[1:]]
            return Router(name, 0, variants)
        if self.model_ref is not None:
            version = self.workspace.registry.resolve(self.model_ref)
            check_servable(version, self.options)
            served = served_from_registry(self.workspace, f"{version.name}/{version.version}")
            self.metrics.set_weights(served.name, [("default", served.name, served.version, "stable", 100.0)])
            return Router(served.name, 0, [self._runtime(served.name, "default", "stable", 100.0, served)])
        assert self.deployment_name is not None
        deployment = self.workspace.serving.get(self.deployment_name)
        variants = [self._runtime(deployment.name, v.name, v.role, v.weight, self._model(v.model, v.version))
                    for v in deployment.variants]
        sticky = str(deployment.spec.get("routing", {}).get("sticky_key", "") or "")
        router = Router(deployment.name, deployment.revision, variants, sticky,
                        lookup_for(self.workspace, deployment.spec))
        self.metrics.set_weights(deployment.name, [(v.name, v.model.name, v.model.version, v.role, v.weight)
                                                   for v in variants])
        return router

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self.router = await asyncio.to_thread(self.build_router)
        if self.options.freeze_gc:
            # The models and libraries are loaded: keep the collector from re-scanning that heap
            # (hundreds of thousands of objects) in every full collection while serving.
            gc.collect()
            gc.freeze()
            # A server process: background threads (the payload writer building Arrow tables,
            # metrics snapshots) hand the GIL back to the event loop after 0.5 ms instead of
            # Python's default 5 ms, which otherwise shows up in the p99 of fast requests.
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        if self.options.payload_log:
            spool = Spool(self.options.spool_dir or Path(self.workspace.settings.home) / "serving-spool",
                          self.options.worker_id)
            self.payload = PayloadLogger(self.workspace.blobs, self.workspace.serving._backend.record_payload_segment,
                                         self.options.segment_rows, self.options.flush_seconds,
                                         self.options.max_log_buffer_rows, spool, self.metrics,
                                         self.options.spool_sync_seconds)
        if self.options.metrics_dir:
            self._tasks.append(asyncio.create_task(self._every(self.options.metrics_seconds, self.share_metrics)))
        if self.deployment_name is not None:
            self._tasks.append(asyncio.create_task(self._every(self.options.reload_seconds, self.reload)))
            self._tasks.append(asyncio.create_task(self._every(self.options.stats_seconds, self.report_stats)))
            if self.options.controller:
                self._tasks.append(asyncio.create_task(self._every(self.options.controller_seconds, self.tick)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._controller is not None:
            await asyncio.to_thread(self._controller.release)
        if self.deployment_name is not None:
            with contextlib.suppress(Exception):
                await self.report_stats()
        if self.payload is not None:
            await asyncio.to_thread(self.payload.close)
        if self.options.metrics_dir:
            with contextlib.suppress(Exception):
                await self.share_metrics()

    async def share_metrics(self) -> None:
        """Write this worker's metrics where ``/metrics`` of every worker sums them up."""
        from slipway.serving.shared_metrics import write_snapshot

        await asyncio.to_thread(write_snapshot, self.options.metrics_dir, self.options.worker_id, self.metrics.registry)

    async def _every(self, seconds: float, job: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the store may be briefly away; keep serving and retry
                self.last_error = f"{type(err).__name__}: {err}"
                log.warning("background job %s failed: %s", getattr(job, "__name__", job), err)

    async def reload(self) -> None:
        """Swap in a new router if the deployment's revision changed."""
        assert self.deployment_name is not None and self.router is not None
        current = await asyncio.to_thread(self.workspace.serving.get, self.deployment_name)
        if current.revision != self.router.revision:
            await self.report_stats()  # close the old revision's counters first
            self.router = await asyncio.to_thread(self.build_router)

    async def report_stats(self) -> None:
        router = self.router
        if router is None or self.deployment_name is None:
            return
        snapshot = {v.name: v.counters.to_dict() for v in router.variants
                    if v.counters.requests or v.counters.feedback}
        if snapshot:
            await asyncio.to_thread(self.workspace.serving._backend.record_stats, router.deployment,
                                    router.revision, self.options.worker_id, snapshot)

    async def tick(self) -> None:
        assert self.deployment_name is not None
        if self._controller is None:
            from slipway.deploy.controller import CanaryController

            self._controller = CanaryController(self.workspace.serving, self.deployment_name,
                                                lease_s=self.options.controller_lease_seconds)
        try:
            decision = await asyncio.to_thread(self._controller.tick)
        except NotFound:
            return
        if decision is not None and decision.get("action") in {"advance", "promote", "rollback"}:
            await self.reload()
