"""Slipway: one system of record for a model's whole life.

The module-level functions act on the default workspace (the last :func:`connect`, or one opened
from ``SLIPWAY_*`` settings on first use) and are shaped like MLflow's::

    import slipway

    with slipway.start_run(experiment="maintenance"):
        slipway.log_params({"n_estimators": 200})
        slipway.log_metric("auc", 0.97)
"""

from __future__ import annotations

import os

from slipway.core.errors import (
    AlreadyExists,
    BackendUnavailable,
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SlipwayError,
    Unauthenticated,
)

# The workspace and tracking modules (and SQLAlchemy behind them) load on first use, so that
# ``import slipway.<something>`` (e.g. the CLI entry point) stays cheap; even ``typing`` is not
# imported at run time (mypy treats any name TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from slipway.serving.background import InferenceServer
    from slipway.tracking.service import ActiveRun
    from slipway.workspace import Workspace, connect, default_workspace

__version__ = "0.1.0"

_LAZY = {"ActiveRun": "slipway.tracking.service", "Workspace": "slipway.workspace",
         "connect": "slipway.workspace", "default_workspace": "slipway.workspace"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _default() -> Workspace:
    from slipway.workspace import default_workspace

    return default_workspace()


def start_run(name: str | None = None, *, experiment: str | None = None, nested: bool = False,
              tags: dict[str, str] | None = None, durable: bool | None = None) -> ActiveRun:
    """Start a run and make it active; use it as a context manager to end it.

    ``durable=True`` spools each metric point to a local file before ``log_metric`` returns, so a
    killed process loses none (default: the ``metric_durable`` setting, ``SLIPWAY_METRIC_DURABLE``).
    """
    return _default().tracking.start_run(name, experiment=experiment, nested=nested, tags=tags, durable=durable)


def end_run(status: str = "FINISHED") -> None:
    _default().tracking.end_run(status=status)


def active_run() -> ActiveRun | None:
    return _default().tracking.active_run()


def log_param(key: str, value: Any) -> None:
    _default().tracking.log_param(key, value)


def log_params(params: dict[str, Any]) -> None:
    _default().tracking.log_params(params)


def log_metric(key: str, value: float, step: int | None = None) -> None:
    _default().tracking.log_metric(key, value, step)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    _default().tracking.log_metrics(metrics, step)


def set_tags(tags: dict[str, Any]) -> None:
    _default().tracking.set_tags(tags)


def set_tag(key: str, value: Any) -> None:
    _default().tracking.set_tags({key: value})


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> Any:
    return _default().tracking.log_artifact(local_path, artifact_path)


def log_input(dataset_version: Any, context: str = "training") -> Any:
    return _default().tracking.log_input(dataset_version, context)


def search_runs(filter: str = "", experiments: list[str] | None = None, order_by: list[str] | None = None,
                max_results: int = 100) -> Any:
    return _default().tracking.search_runs(filter, experiments, order_by, max_results)


def log_model(model: Any, name: str = "model", *, input_example: Any = None,
              registered_model_name: str | None = None, **kwargs: Any) -> Any:
    """Store ``model`` as a bundle artifact of the active run (and register it when named)."""
    from slipway.models.logging import log_model as _log_model

    return _log_model(_default(), model, name, input_example=input_example,
                      registered_model_name=registered_model_name, **kwargs)


def load_model(ref: str) -> Any:
    """Load a model as a Predictor: ``name@alias``, ``name/3``, ``models:/name@alias`` or ``runs:/id/path``."""
    from slipway.models.logging import load_model as _load_model

    return _load_model(_default(), ref)


def autolog(**kwargs: Any) -> None:
    """Log params, training metrics, the model and the training data's digest on every ``fit``."""
    from slipway.models.autolog import enable

    enable(_default(), **kwargs)


def generate_signing_key(path: str | os.PathLike[str], comment: str = "") -> str:
    """An Ed25519 key pair for signing decisions: the private key at ``path`` (mode 0600) and its
    public key at ``path.pub``, made once (an existing pair is kept). Returns the public key text
    (``ssh-ed25519 AAAA… comment``) to register with ``ws.identity.add_key(user, text)``; the user
    then connects with ``slipway.connect(..., user=NAME, signing_key=path)``."""
    from pathlib import Path

    from slipway.identity.keys import generate_key_files

    private = Path(os.path.expanduser(str(path)))
    public = private.with_name(private.name + ".pub")
    if not private.exists():
        public, _ = generate_key_files(private, comment)
    return public.read_text().strip()


def serve_in_background(workspace: Workspace, deployment: str, *, host: str = "127.0.0.1",
                        port: int = 0, timeout: float = 60.0) -> InferenceServer:
    """Serve ``deployment`` from a thread of this process, as ``workspace``'s user, the way
    ``slipway serve --deployment NAME`` does (same app, canary controller and payload log); returns
    once its models are loaded. ``port`` 0 takes any free port (the server's ``url`` says which).
    Stop it with ``stop()`` (or use it as a context manager); ``wait()`` blocks until Ctrl-C.

    Raises:
        BackendUnavailable: the server did not become ready within ``timeout`` seconds.
    """
    from slipway.serving.background import InferenceServer
    from slipway.workspace import open_workspace

    return InferenceServer(workspace.settings, deployment, open_workspace, host, port).start(timeout)


__all__ = [
    "ActiveRun", "AlreadyExists", "BackendUnavailable", "Conflict", "IntegrityError", "InvalidInput", "NotFound",
    "PermissionDenied", "SlipwayError", "Unauthenticated", "Workspace", "active_run", "autolog", "connect",
    "default_workspace", "end_run", "generate_signing_key", "load_model", "log_artifact", "log_input", "log_metric", "log_metrics",
    "log_model", "log_param", "log_params", "search_runs", "serve_in_background", "set_tag", "set_tags", "start_run",
]
