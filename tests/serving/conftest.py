"""Fixtures for the inference server tests: AI4I data and a workspace with ai4i@champion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from slipway.workspace import Workspace, open_workspace, set_default
from tests.serving.helpers import ai4i, champion
from tests.support import make_settings


@pytest.fixture(scope="session")
def ai4i_data() -> tuple[pd.DataFrame, pd.Series]:
    return ai4i(3000)


@pytest.fixture
def champion_ws(home: Path, ai4i_data: tuple[pd.DataFrame, pd.Series]) -> Iterator[tuple[Workspace, Any]]:
    """A workspace whose registry has the AI4I pipeline as ai4i@champion (approved); yields (ws, pipeline)."""
    ws = open_workspace(make_settings(home))
    set_default(ws)
    pipeline = champion(home, ws, *ai4i_data)
    yield ws, pipeline
    ws.close()
    set_default(None)
