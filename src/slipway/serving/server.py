"""Running the inference server: one process, or a supervisor with several workers.

``serve(settings, target, ...)`` is what ``slipway serve`` calls. A target is a model reference,
a deployment name or a bundle folder. With a deployment and several workers, the canary
controller runs once, in the supervisor, instead of in every worker.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from slipway.core.settings import Settings
from slipway.serving.options import ServeOptions

log = logging.getLogger("slipway.serving")
OpenWorkspace = Callable[[Settings], Any]


@dataclasses.dataclass(frozen=True)
class ServeTarget:
    model_ref: str | None = None
    deployment: str | None = None
    bundle_path: str | None = None
    bundle_name: str | None = None
    bundle_version: str | None = None


def build_app(settings: Settings, target: ServeTarget, options: ServeOptions, open_workspace: OpenWorkspace) -> Any:
    """The ASGI app for ``target`` over a workspace opened from ``settings``."""
    from slipway.serving.app import create_inference_app
    from slipway.serving.runtime import ServerRuntime

    workspace = open_workspace(settings)
    if target.bundle_path is not None:
        from slipway.serving.bundle_source import served_from_bundle

        runtime = ServerRuntime(workspace, dataclasses.replace(options, payload_log=False),
                                models=[served_from_bundle(target.bundle_path, target.bundle_name, target.bundle_version)])
    elif target.deployment is not None:
        runtime = ServerRuntime(workspace, options, deployment=target.deployment)
    else:
        runtime = ServerRuntime(workspace, options, model_ref=target.model_ref)
    return create_inference_app(runtime)


def run_worker(sock: socket.socket, settings: Settings, target: ServeTarget, options: ServeOptions,
               open_workspace: OpenWorkspace) -> None:
    """One worker process: build the app and serve on the inherited socket until SIGTERM."""
    import uvicorn

    from slipway.serving.http import http_protocol

    app = build_app(settings, target, dataclasses.replace(options, worker_id=f"{options.worker_id}-{_pid()}",
                                                          freeze_gc=True), open_workspace)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=20,
                            http=http_protocol(settings))
    uvicorn.Server(config).run(sockets=[sock])


def _pid() -> int:
    import os

    return os.getpid()


def controller_loop(settings: Settings, deployment: str, seconds: float, open_workspace: OpenWorkspace,
                    lease_s: float = 15.0) -> Any:
    """A function for the supervisor's background thread: every ``seconds``, tick the canary if
    this server's controller holds the deployment's lease (:mod:`slipway.deploy.controller`)."""

    def loop(stop: threading.Event) -> None:
        from slipway.deploy.controller import CanaryController

        workspace = open_workspace(settings)
        controller = CanaryController(workspace.serving, deployment, lease_s=lease_s)
        while not stop.wait(seconds):
            try:
                controller.tick()
            except Exception as err:  # keep controlling; the store may be briefly away
                log.warning("canary tick for %s failed: %s", deployment, err)
        controller.release()

    return loop


def restart_recorder(settings: Settings, deployment: str,
                     open_workspace: OpenWorkspace) -> Callable[[int | None, int | None, int], None]:
    """A supervisor's ``on_restart``: record each worker restart of ``deployment`` in the ledger
    (``deployment.worker_restart``), where the diagnosis's serving-health step counts them."""
    opened: list[Any] = []

    def record(pid: int | None, exitcode: int | None, restarts: int) -> None:
        if not opened:
            opened.append(open_workspace(settings))
        opened[0].backend("deploy").record_worker_restart(deployment, pid, exitcode, restarts)

    return record


def serve(settings: Settings, target: ServeTarget, open_workspace: OpenWorkspace, host: str = "127.0.0.1",
          port: int = 8080, workers: int = 1, options: ServeOptions | None = None) -> None:
    """Serve ``target`` on ``host:port`` until interrupted.

    Args:
        open_workspace: builds a workspace from settings in each worker (``slipway.workspace.open_workspace``;
            passed in because the workspace sits above the server in the layers).
    """
    from slipway.serving.supervisor import Supervisor, bind_socket

    options = options or ServeOptions.from_settings(settings)
    sock = bind_socket(host, port)
    if workers <= 1:
        run_worker(sock, settings, target, options, open_workspace)
        return
    import shutil
    import tempfile

    metrics_dir = tempfile.mkdtemp(prefix="slipway-metrics-")  # each worker's snapshot, summed by /metrics
    worker_options = dataclasses.replace(options, controller=False, metrics_dir=metrics_dir)
    background = controller_loop(settings, target.deployment, options.controller_seconds, open_workspace,
                                 options.controller_lease_seconds) \
        if target.deployment and options.controller else None
    try:
        recorder = restart_recorder(settings, target.deployment, open_workspace) if target.deployment else None
        Supervisor(run_worker, {"settings": settings, "target": target, "options": worker_options,
                                "open_workspace": open_workspace}, sock, workers, on_restart=recorder).run(background)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
