"""An inference server in a thread of the calling process: ``slipway serve --deployment NAME``
(the same app, canary controller and payload log) for notebooks, examples and tests. Start it
with :func:`slipway.serve_in_background`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from slipway.core.errors import BackendUnavailable
from slipway.core.settings import Settings
from slipway.serving.options import ServeOptions
from slipway.serving.server import ServeTarget, build_app
from slipway.serving.supervisor import bind_socket


class InferenceServer:
    """A deployment served on ``host:port`` (``port`` 0: any free port; ``url`` says which)."""

    def __init__(self, settings: Settings, deployment: str, open_workspace: Callable[[Settings], Any],
                 host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        options = ServeOptions.from_settings(settings)
        self._socket = bind_socket(host, port)
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        self.deployment = deployment
        app = build_app(settings, ServeTarget(deployment=deployment), options, open_workspace)
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="slipway-inference", daemon=True)

    def start(self, timeout: float = 60.0) -> InferenceServer:
        """Start serving and wait until the deployment's models are loaded (``/readyz``).

        Raises:
            BackendUnavailable: the server did not become ready in time.
        """
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if not self._thread.is_alive():
                break
            time.sleep(0.1)
        self.stop()
        raise BackendUnavailable(f"the inference server on {self.url} did not become ready in {timeout:g} s")

    def stop(self) -> None:
        """Shut down gracefully: in-flight requests finish, the payload log is flushed."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._socket.close()

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> InferenceServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
