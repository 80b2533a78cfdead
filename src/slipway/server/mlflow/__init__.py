"""The MLflow REST API on ``slipway server``, mapped onto Slipway's tracking (see docs/mlflow.md).

An MLflow client pointed at the server (``MLFLOW_TRACKING_URI=http://host:5050``, token in
``MLFLOW_TRACKING_TOKEN``) writes ordinary Slipway experiments, runs and artifacts, with the
caller's role checked and every change in the audit ledger.
"""

from __future__ import annotations

from fastapi import FastAPI

from slipway.identity.authenticator import Authenticator
from slipway.local import LocalTransport
from slipway.server.mlflow import (
    artifacts,
    experiments,
    history,
    logged_models,
    multipart,
    registry,
    run_data,
    runs,
    search,
)
from slipway.server.mlflow.protocol import mount, mount_fallback


def add_mlflow_routes(app: FastAPI, base: LocalTransport, auth: Authenticator) -> None:
    """Mount every MLflow route (``/api/2.0/mlflow/...``, its ``/ajax-api`` alias, and the
    ``/api/2.0/mlflow-artifacts`` proxy, with its multipart upload) on ``app``."""
    mount(app, base, auth, experiments.ROUTES + runs.ROUTES + run_data.ROUTES + search.ROUTES + registry.ROUTES
          + history.ROUTES + logged_models.ROUTES + artifacts.ROUTES)
    artifacts.add_artifact_routes(app, base, auth)
    multipart.add_multipart_routes(app, base, auth)
    mount_fallback(app)
