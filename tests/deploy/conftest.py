"""Fixtures for deployment tests: a registry with several versions of a small real model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from slipway.workspace import Workspace, open_workspace, set_default
from tests.serving.helpers import ai4i, approve, register
from tests.serving.model_classes import FlakyTorqueThreshold, TorqueThreshold
from tests.support import make_settings


@pytest.fixture(scope="session")
def ai4i_rows() -> pd.DataFrame:
    return ai4i(2000)[0]


@pytest.fixture
def torque_ws(home: Path, ai4i_rows: pd.DataFrame) -> Iterator[Workspace]:
    """Model ``torque``: v1 (threshold 50, approved, champion), v2 (threshold 50, approved: a healthy
    canary), v3 (fails 20% of calls, approved: a bad canary), v4 (threshold 45, only registered)."""
    ws = open_workspace(make_settings(home))
    set_default(ws)
    example = ai4i_rows.head(10)
    for model in (TorqueThreshold(50.0), TorqueThreshold(50.0), FlakyTorqueThreshold(50.0, 0.2), TorqueThreshold(45.0)):
        register(ws, model, "torque", example)
    for version in (1, 2, 3):
        approve(home, ws, f"torque/{version}")
    ws.registry.set_alias("torque", "champion", 1)
    yield ws
    ws.close()
    set_default(None)
