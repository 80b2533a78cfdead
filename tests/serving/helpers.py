"""Shared set-up for serving and deployment tests: the AI4I pipeline, registration, approval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from slipway.models.logging import log_model
from slipway.workspace import Workspace, open_workspace
from tests.support import AI4I, make_settings

FEATURES = ["Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
            "Tool wear [min]"]
LABEL = "Machine failure"


def ai4i(rows: int = 3000) -> tuple[pd.DataFrame, pd.Series]:
    """A slice of AI4I: features and the Machine failure label."""
    frame = pd.read_csv(AI4I, nrows=rows)
    assert len(frame) == rows and set(frame[LABEL].unique()) <= {0, 1}
    return frame[FEATURES], frame[LABEL]


def train_pipeline(features: pd.DataFrame, label: pd.Series) -> Pipeline:
    encode = ColumnTransformer([("type", OneHotEncoder(handle_unknown="ignore"), ["Type"])], remainder="passthrough")
    model = RandomForestClassifier(n_estimators=25, max_depth=8, random_state=0, n_jobs=1)
    return Pipeline([("encode", encode), ("model", model)]).fit(features, label)


def register(ws: Workspace, model: Any, name: str, example: pd.DataFrame, **options: Any) -> int:
    """Log ``model`` in a run and register it as a new version of ``name``; returns the version."""
    with ws.tracking.start_run(f"train-{name}"):
        info = log_model(ws, model, input_example=example, registered_model_name=name, **options)
    assert info.version is not None and int(info.version) >= 1, info
    return int(info.version)


def approve(home: Path, ws: Workspace, ref: str, store_uri: str | None = None) -> None:
    """Request approval as the workspace's user and approve as a second person (four eyes)."""
    request = ws.governance.request_approval(ref, "passes offline evaluation")
    overrides = {"store_uri": store_uri} if store_uri else {}
    approver = open_workspace(make_settings(home, user="approver", **overrides))
    try:
        approver.governance.approve(request.id, "looks good")
    finally:
        approver.close()


def champion(home: Path, ws: Workspace, features: pd.DataFrame, label: pd.Series, name: str = "ai4i") -> Pipeline:
    """Train, register, approve and alias the AI4I pipeline as ``name@champion``; returns the pipeline."""
    pipeline = train_pipeline(features, label)
    version = register(ws, pipeline, name, features.head(20))
    approve(home, ws, f"{name}/{version}")
    ws.registry.set_alias(name, "champion", version)
    assert "champion" in ws.registry.get_version(name, version).aliases
    return pipeline
