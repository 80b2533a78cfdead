"""The real inference server, on a loopback port in a thread of this process, and a client that
talks to it the way a user's application would (Open Inference Protocol v2 and ``/invocations``)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import numpy as np
import pandas as pd

from slipway.core.errors import BackendUnavailable
from slipway.core.settings import Settings
from slipway.serving.options import ServeOptions
from slipway.serving.server import ServeTarget, build_app
from slipway.serving.supervisor import bind_socket
from slipway.workspace import open_workspace

FEATURES = ["Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
            "Tool wear [min]"]
V2_TYPES = {"object": "BYTES", "str": "BYTES", "int64": "INT64", "float64": "FP64"}


class InferenceServer:
    """``slipway serve --deployment NAME`` in a thread: the same app, controller and payload log."""

    def __init__(self, settings: Settings, deployment: str, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        options = ServeOptions.from_section(settings.section("serving"))
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


def invocations_body(rows: pd.DataFrame) -> dict[str, Any]:
    """MLflow's ``dataframe_split`` body for ``rows``."""
    return {"dataframe_split": {"columns": FEATURES, "data": rows[FEATURES].to_numpy().tolist()}}


def v2_body(rows: pd.DataFrame) -> dict[str, Any]:
    """An Open Inference Protocol v2 body: one tensor per column."""
    return {"inputs": [{"name": column, "shape": [len(rows)], "datatype": V2_TYPES[str(rows[column].dtype)],
                        "data": rows[column].tolist()} for column in FEATURES]}


def ask(client: httpx.Client, deployment: str, rows: pd.DataFrame, protocol: str) -> tuple[str, np.ndarray]:
    """Send ``rows`` once; returns the model version that answered and its predictions."""
    if protocol == "v2":
        response = client.post(f"/v2/models/{deployment}/infer", json=v2_body(rows))
    else:
        response = client.post("/invocations", json=invocations_body(rows))
    if response.status_code != 200:
        raise BackendUnavailable(f"{protocol} request answered {response.status_code}: {response.text[:200]}")
    body = response.json()
    values = body["outputs"][0]["data"] if protocol == "v2" else body["predictions"]
    return response.headers["x-slipway-model-version"], np.asarray(values)
